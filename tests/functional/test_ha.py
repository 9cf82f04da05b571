# SPDX-License-Identifier: Apache-2.0
"""Three controllers: one part of one controller lost at a time, under
load, and nobody called down.

The lab (``tools/ha-lab.sh``, ``halab.py``) is a three-node RabbitMQ
cluster with quorum queues, a three-node Galera cluster and a three-node
ZooKeeper ensemble. Two conductors run on it, A on Galera node 1 (through
a TCP proxy of the test's own, for the test that cuts that link) and B on
node 2, with the tooz driver on the ensemble; 300 simulated services and
one real compute report every 2 s and are down after 6 s of silence, and
a watcher lists them back to back (``outages.Drill``). Each test takes one
part away for a while, starts a compute meanwhile, gives the part back,
and checks that:

* no listing showed a live service down and no ``service.state`` said
  so, and no row was lost (``Drill.check_recovery``);
* listings failed for at most FAILED_IN_A_ROW s in a row and
  FAILED_IN_ALL s in all;
* the compute started during the fault is registered and up;
* a compute killed afterwards is still caught.
"""

import os
import sys
import time

import pytest

from sgconductor.conductor import pinning
from sgconductor.conductor import progress
from sgconductor.conductor import rpcapi as conductor_rpcapi
from tests.functional import databases
from tests.functional import deployment as sg_deployment
from tests.functional import halab
from tests.functional import outages
from tests.functional import tcp_proxy

RABBIT = {'rabbit_quorum_queue': 'true', 'amqp_auto_delete': 'false'}
# The fleet's members on one ZooKeeper session, as tools/bench_liveness.py
# runs them: 300 sessions of their own would have one Python process on
# two cores reconnect 300 clients at once when the ensemble loses its
# leader, and stall its report loop (real hosts each have their own).
FLEET_COMMAND = [sys.executable, os.path.join(os.path.dirname(
    halab.SCRIPT), 'fleet.py')]
# Seconds each part stays away; the database node of a conductor, as the
# issue that asked for these tests measured it, a minute.
DATABASE_OUTAGE = 60
OUTAGE = 30
# Seconds listings may fail: while calls taken before a part was noticed
# lost are answered, or the cluster pauses (Galera stalls writes for
# about 5 s when it loses a node).
FAILED_IN_A_ROW = 5
FAILED_IN_ALL = 10
# Seconds from the end of a fault until every service is listed up,
# including the compute started during it.
RECOVERY_LIMIT = 45
DETECTION_LIMIT = (outages.SERVICE_DOWN_TIME + progress.STUCK_AFTER
                   + 2 * outages.REPORT_INTERVAL + 20)
# A conductor started with the first broker of its transport_url down
# must serve within this many seconds.
SERVE_LIMIT = 45
# The compute started during a fault.
LATE = 'late'


@pytest.fixture(scope='module')
def lab():
    halab.start()


@pytest.fixture
def database(lab):
    server = databases.Server('mysql', halab.galera_url(1))
    url = server.create_database()
    yield url
    server.drop_database(url)
    server.dispose()


@pytest.fixture
def a_database_link(database):
    """Conductor A's way to Galera node 1."""
    proxy = tcp_proxy.TcpProxy(database.render_as_string(
        hide_password=False), 3306)
    proxy.start()
    yield proxy
    proxy.close()


@pytest.fixture
def a_broker_links(lab):
    """Conductor A's way to each broker node."""
    with tcp_proxy.proxies([halab.transport_url([port]) for port in
                            halab.BROKER_PORTS.values()], 5672) as made:
        yield made


@pytest.fixture
def deployment(request, lab, database, tmp_path):
    d = sg_deployment.Deployment(
        tmp_path, database, transport_url=halab.transport_url(),
        service_down_time=outages.SERVICE_DOWN_TIME,
        report_interval=outages.REPORT_INTERVAL,
        servicegroup={'driver': 'tooz',
                      'backend_url': halab.ZOOKEEPER_URL},
        sections={'oslo_messaging_rabbit': RABBIT})
    request.node.sg_deployment = d
    d.db_sync()
    yield d
    d.cleanup()


@pytest.fixture
def client(deployment):
    """The test's own messaging (the notification listener of the drill)
    with the deployment's [oslo_messaging_rabbit] options: quorum queues
    make the exchanges durable, and a client that declares them
    otherwise is refused."""
    with sg_deployment.configured_client(deployment, {
            option: value == 'true' for option, value in RABBIT.items()}
    ) as conductor_api:
        yield conductor_api


class Controllers:
    """A drill with a second conductor, B, on Galera node 2; conductor A
    is the drill's own, configured with ``a_sections``."""

    def __init__(self, deployment, a_sections=None):
        self.deployment = deployment
        self.drill = outages.Drill(
            deployment, conductor_sections=dict(
                a_sections or {}, DEFAULT=dict(
                    (a_sections or {}).get('DEFAULT', {}), host='ctl-a')),
            fleet_command=FLEET_COMMAND)

    def __enter__(self):
        d = self.deployment
        self.drill.__enter__()
        b = d._start('conductor-b', 'sgconductor-conductor', sections={
            'DEFAULT': {'host': 'ctl-b'},
            'database': {'connection': halab.galera_url(
                2, d.db_url.database)}})
        self.drill.children.append(b)
        d.wait_for('conductor B to consume', lambda: (
            sg_deployment.CONDUCTOR_READY in d.read_log('conductor-b')), 30)
        return self

    def __exit__(self, *exc_info):
        return self.drill.__exit__(*exc_info)

    def fault(self, begin, end, seconds):
        """``begin()`` a fault, start a compute meanwhile, ``end()`` it
        after ``seconds``; then check everything the module says."""
        drill = self.drill
        begin()
        began = time.time()
        drill.start_late_compute(LATE)
        time.sleep(max(0, began + seconds - time.time()))
        drill.assert_running()
        end()
        ended = time.time()

        def all_up(services):
            late = services.pop(LATE, {})
            return outages.all_up(services) and late.get('state') == 'up'
        after = drill.wait_until_listed('every service up, the one started '
                                        'during the fault too', all_up,
                                        RECOVERY_LIMIT)
        print('every service up %.1f s after the fault ended'
              % (time.time() - ended))
        time.sleep(2 * outages.REPORT_INTERVAL)
        drill.check_recovery(began, ended + RECOVERY_LIMIT, after)
        drill.check_failed_listings(FAILED_IN_A_ROW, FAILED_IN_ALL)
        drill.check_judgement_works(DETECTION_LIMIT)

    def conductor_row(self, host):
        (row,) = self.deployment.services(binary=pinning.CONDUCTOR_BINARY,
                                          host=host)
        return row


def test_the_database_node_of_a_conductor_killed(deployment, client):
    with Controllers(deployment) as controllers:
        controllers.fault(lambda: halab.node('kill', 'galera', 1),
                          lambda: halab.node('start', 'galera', 1),
                          DATABASE_OUTAGE)
        assert controllers.conductor_row('ctl-a')['status'] == 'enabled'


def test_a_conductors_link_to_its_database_cut(deployment, client,
                                               a_database_link):
    with Controllers(deployment, {'database': {
            'connection': a_database_link.url()}}) as controllers:
        controllers.fault(a_database_link.cut, a_database_link.restore,
                          OUTAGE)


def test_a_conductors_link_to_the_broker_cut(deployment, client,
                                             a_broker_links):
    url = tcp_proxy.several_brokers_url(
        halab.transport_url(), [p.port for p in a_broker_links])

    def cut():
        for proxy in a_broker_links:
            proxy.cut()

    def restore():
        for proxy in a_broker_links:
            proxy.restore()
    with Controllers(deployment, {'DEFAULT': {'transport_url': url}}) as (
            controllers):
        controllers.fault(cut, restore, OUTAGE)


def test_the_rabbitmq_node_leading_the_queues_stopped(deployment, client):
    reports = conductor_rpcapi.reports_topic(deployment.topic)
    with Controllers(deployment) as controllers:
        leader = halab.leader('rabbitmq', reports)
        print('RabbitMQ node %d leads %s' % (leader, reports))
        controllers.fault(lambda: halab.node('stop', 'rabbitmq', leader),
                          lambda: halab.node('start', 'rabbitmq', leader),
                          OUTAGE)


def test_the_zookeeper_leader_killed(deployment, client):
    with Controllers(deployment) as controllers:
        leader = halab.leader('zookeeper')
        print('ZooKeeper node %d leads' % leader)
        controllers.fault(lambda: halab.node('kill', 'zookeeper', leader),
                          lambda: halab.node('start', 'zookeeper', leader),
                          OUTAGE)


def test_a_conductor_started_while_the_first_broker_is_down(deployment):
    d = deployment
    halab.node('stop', 'rabbitmq', 1)
    try:
        started = time.monotonic()
        d.start_conductor(sections={'conductor': {'workers': 2}})
        d.start_compute('cn1', '--host', 'cn1')
        d.wait_for_services('cn1 up', lambda s: s.get('cn1', {}).get(
            'state') == 'up', SERVE_LIMIT)
        print('serving %.1f s after start with the first broker down'
              % (time.monotonic() - started))
        assert time.monotonic() - started < SERVE_LIMIT
        assert 'Traceback' not in d.read_log('conductor'), d.describe()
    finally:
        halab.node('start', 'rabbitmq', 1)
