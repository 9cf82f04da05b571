# SPDX-License-Identifier: Apache-2.0
"""Every connection of the conductor follows the whole broker list.

``transport_url`` names two brokers here: two TCP proxies of the test's
own (``tcp_proxy.py``) in front of the one RabbitMQ, so that each can be
cut like a broker node that went away. oslo.messaging's connections (the
conductor's RPC server, the computes, the CLI) move to the next broker by
themselves; the conductor's own (heartbeat intake, marks, version and
registration servers, the reports queue declared at start) must do the
same, at start and at run time:

* a conductor started while the first broker is down serves, without a
  worker crash loop;
* once running, losing the broker it reads from moves it to the next:
  the CLI keeps listing, heartbeats keep being written, nobody is listed
  down, and no traceback is logged.
"""

import json
import time

import pytest

from tests.functional import deployment as sg_deployment
from tests.functional import tcp_proxy

# The bound for a conductor started with its first broker down.
SERVE_LIMIT = 45
# Seconds for the computes and the conductor to be on the next broker and
# the heartbeats of the compute written again after a broker is lost.
FAILOVER_LIMIT = 30
MOVED_ON = 'lost the broker at 127.0.0.1:%d'


@pytest.fixture
def backend():
    """One database is enough: the broker list is the point."""
    return 'postgresql'


@pytest.fixture
def proxies():
    with tcp_proxy.proxies([sg_deployment.TRANSPORT_URL] * 2, 5672) as made:
        yield made


@pytest.fixture
def deployment(request, broker, database, tmp_path, proxies):
    """A deployment whose transport_url lists both proxies."""
    url = tcp_proxy.several_brokers_url(sg_deployment.TRANSPORT_URL,
                                        [p.port for p in proxies])
    d = sg_deployment.Deployment(tmp_path, database, transport_url=url)
    request.node.sg_deployment = d
    d.db_sync()
    yield d
    d.cleanup()


def report_count(d, host):
    """``host``'s report count, or -1 while the CLI gets no answer (the
    conductor's RPC server, oslo.messaging's, reconnects after a back-off
    of its own)."""
    result = d.manage('service', 'list', '--host', host, '--format', 'json')
    if result.returncode != 0:
        return -1
    (service,) = json.loads(result.stdout)
    return service['report_count']


def test_the_conductor_follows_the_broker_list(deployment, proxies):
    d = deployment
    first, second = proxies
    first.cut()
    started = time.monotonic()
    d.start_conductor(sections={'conductor': {'workers': 2}})
    print('serving %.1f s after start with the first broker down'
          % (time.monotonic() - started))
    assert time.monotonic() - started < SERVE_LIMIT
    d.start_compute('cn1', '--host', 'cn1')
    d.wait_for_services('cn1 up', lambda s: s.get('cn1', {}).get('state')
                        == 'up', FAILOVER_LIMIT)
    assert not first.connections, 'nothing could reach the first broker'
    log = d.read_log('conductor')
    assert 'Traceback' not in log, d.describe()
    assert 'Lost contact with the broker' not in log, d.describe()
    assert 'Traceback' not in d.read_log('compute-cn1'), d.describe()

    # The broker everything reads from goes away; the first is back.
    first.restore()
    second.cut()
    cut = time.monotonic()
    counted = report_count(d, 'cn1')
    d.wait_for('heartbeats written through the first broker',
               lambda: report_count(d, 'cn1') > counted + 2, FAILOVER_LIMIT)
    print('heartbeats written again %.1f s after the cut'
          % (time.monotonic() - cut))
    assert d.service_map()['cn1']['state'] != 'down'
    log = d.read_log('conductor')
    for name in ('heartbeat intake', 'registration server',
                 'version server'):
        assert ('The %s %s' % (name, MOVED_ON % second.port)) in log, (
            name, d.describe())
    assert 'Traceback' not in log, d.describe()
    assert 'Traceback' not in d.read_log('compute-cn1'), d.describe()
    assert first.connections >= 4, first.connections
