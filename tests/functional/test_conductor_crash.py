# SPDX-License-Identifier: Apache-2.0
"""The conductor SIGKILLed under load, and started again 10 s later.

Its queues outlive it (amqp_auto_delete off, as in production), so what
computes send while it is away waits in them. While it is away, one
service starts, one is upgraded (both register with a call, which fails
and is retried), and a report of a new service is cast.
Afterwards (``outages.Drill``):

* every heartbeat queued meanwhile is processed: each service's report
  count grows by the reports of the downtime;
* the registrations and the version change are there;
* nobody was listed or notified down, no compute died;
* a compute killed afterwards is still caught.
"""

import time

import pytest
from oslo_config import cfg

from sgconductor import version
from sgconductor.conductor import rpcapi as conductor_rpcapi
from tests.functional import outages

REPORT_INTERVAL = outages.REPORT_INTERVAL
SERVICE_DOWN_TIME = outages.SERVICE_DOWN_TIME
DOWNTIME = 10
RECOVERY_LIMIT = 60
DETECTION_LIMIT = SERVICE_DOWN_TIME + 2 * REPORT_INTERVAL + 15
LATE_BINARY = 'nova-scheduler'
NEW_VERSION = version.SERVICE_VERSION + 1
# Queues and exchanges outlive their consumers (oslo.messaging's default,
# which the other tests turn off), so the conductor's stay when it dies;
# every process must agree, or RabbitMQ refuses the second declaration.
# Removed after the test.
KEPT = {'oslo_messaging_rabbit': {'amqp_auto_delete': 'false'}}


@pytest.fixture
def backend():
    """One database is enough here; the conductor is the point."""
    return 'mysql'


@pytest.fixture
def deployment(request, broker, database, tmp_path):
    """The ``client`` fixture's too."""
    yield from outages.deployment(request, database, tmp_path,
                                  sections=KEPT)


@pytest.fixture
def client(client):
    """conftest's, with the deployment's queues and exchanges."""
    cfg.CONF.set_override('amqp_auto_delete', False,
                          group='oslo_messaging_rabbit')
    yield client
    cfg.CONF.clear_override('amqp_auto_delete',
                            group='oslo_messaging_rabbit')


def test_a_conductor_killed_under_load_loses_nothing(deployment, client):
    d = deployment
    ctxt = conductor_rpcapi.admin_context()
    with outages.Drill(d) as drill:
        drill.crash_conductor()
        killed = time.time()
        # While it is away: a new service, an upgrade (both register with
        # a call, retried), and a report of another new service, cast.
        late = d.start_compute('late', '--host', 'late',
                               '--binary', LATE_BINARY)
        drill.children.append(late)
        drill.restart_compute('cn1', '--service-version', str(NEW_VERSION))
        client.report_state(ctxt, {'host': 'queued', 'binary': LATE_BINARY,
                                   'version': NEW_VERSION})
        time.sleep(max(0, killed + DOWNTIME - time.time()))
        drill.assert_running()

        drill.start_conductor()
        restarted = time.time()
        after = drill.wait_until_listed(
            'every service up again, cn1 upgraded', lambda s: (
                outages.all_up(s) and s['cn1']['version'] == NEW_VERSION),
            RECOVERY_LIMIT)
        print('every service up %.1f s after the restart'
              % (time.time() - restarted))
        gained = min(after[host]['report_count']
                     - drill.before[host]['report_count']
                     for host in outages.HOSTS if host != 'cn1')
        print('every service gained at least %d reports' % gained)
        assert gained >= DOWNTIME / REPORT_INTERVAL - 1
        # The queued report registered its service; the one started
        # meanwhile registered once it could.
        late = d.wait_for(
            'the service started meanwhile registered and up',
            lambda: {s['host']: s for s in d.services(binary=LATE_BINARY)
                     if s['host'] == 'queued' or s['state'] == 'up'},
            RECOVERY_LIMIT)
        assert sorted(late) == ['late', 'queued'], late
        assert late['queued']['version'] == NEW_VERSION

        time.sleep(2 * REPORT_INTERVAL)
        drill.check_recovery(killed, restarted + RECOVERY_LIMIT, after)
        drill.check_judgement_works(DETECTION_LIMIT)
