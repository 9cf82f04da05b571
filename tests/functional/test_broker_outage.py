# SPDX-License-Identifier: Apache-2.0
"""RabbitMQ unreachable for 30 s under a running fleet.

The conductor and the computes reach the broker through TCP proxies of
this test's own (``tcp_proxy.py``); cutting them drops every connection
and refuses new ones, as a broker that went away would, while the broker
and the other tests go on. The computes' proxy is restored a second after
the conductor's: reporters regain a broker at their own pace, after their
next report interval, and the conductor must not call them down
meanwhile. Throughout, and after (``outages.Drill``):

* no process dies, and every one reconnects by itself;
* no service is listed down, nor notified down (``service.state``): the
  conductor suspends its judgement while it cannot read reports, and
  holds it back after regaining the broker (``progress.resume_hold()``);
* while the conductor is away, the CLI says so in one line;
* nothing stored is lost, and reports are written again;
* once the hold is over, a killed compute is down within seconds, and
  notified down: the listener would have seen a false one.
"""

import time

import pytest

from tests.functional import deployment as sg_deployment
from tests.functional import outages
from tests.functional import tcp_proxy

REPORT_INTERVAL = outages.REPORT_INTERVAL
SERVICE_DOWN_TIME = outages.SERVICE_DOWN_TIME
# What progress.resume_hold() makes of REPORT_INTERVAL.
HOLD = 2 * REPORT_INTERVAL + 1
OUTAGE_SECONDS = 30
# Seconds the computes regain the broker after the conductor.
COMPUTES_LAG = 1
# Seconds until every service is up again (oslo.messaging's RPC server
# backs off up to 30 s between its attempts to reconnect).
RECOVERY_LIMIT = 60
# Seconds from killing a compute until it is down.
DETECTION_LIMIT = SERVICE_DOWN_TIME + HOLD + 10

LOST = 'Lost contact with the broker (heartbeat intake)'
RECOVERED = 'Contact with the broker (heartbeat intake) recovered.'
HELD = 'resumes in %d s, once every service had time to report again.' % (
    HOLD)
COMPUTE_LOST = 'Lost contact with the conductor'
COMPUTE_RECOVERED = 'Contact with the conductor recovered.'


@pytest.fixture
def deployment(request, broker, database, tmp_path):
    """The ``client`` fixture's too."""
    yield from outages.deployment(request, database, tmp_path)


@pytest.fixture
def backend():
    """One database is enough here; the broker is the point."""
    return 'postgresql'


@pytest.fixture
def proxies():
    """One proxy for the conductor, one for the computes."""
    made = {role: tcp_proxy.TcpProxy(sg_deployment.TRANSPORT_URL, 5672)
            for role in ('conductor', 'computes')}
    for proxy in made.values():
        proxy.start()
    yield made
    for proxy in made.values():
        proxy.close()


def test_broker_outage_under_load(deployment, proxies, client):
    d = deployment

    def through(role):
        return {'DEFAULT': {'transport_url': proxies[role].url()}}

    with outages.Drill(d, conductor_sections=through('conductor'),
                       compute_sections=through('computes')) as drill:
        for proxy in proxies.values():
            proxy.cut()
        cut = time.time()
        # Operators are told, in one line, that the conductor is away.
        result = d.manage('service', 'list')
        assert result.returncode != 0, result.stdout
        print('service list during the outage: %s'
              % sg_deployment.one_line(result.stderr))
        assert 'Cannot reach the conductor' in result.stderr
        time.sleep(max(0, cut + OUTAGE_SECONDS - time.time()))
        drill.assert_running()

        proxies['conductor'].restore()
        restored = time.time()
        time.sleep(COMPUTES_LAG)
        proxies['computes'].restore()
        after = drill.wait_until_listed('every service up again',
                                        outages.all_up, RECOVERY_LIMIT)
        print('every service up %.1f s after the conductor regained the '
              'broker' % (time.time() - restored))
        # Past the hold and two more report intervals, still nobody down.
        time.sleep(HOLD + 2 * REPORT_INTERVAL)
        drill.check_recovery(cut, restored + RECOVERY_LIMIT, after)
        assert HELD in drill.conductor_log_since(LOST, RECOVERED)
        for name in ('compute-fleet', 'compute-cn1'):
            log = d.read_log(name)
            assert COMPUTE_LOST in log and COMPUTE_RECOVERED in log, name

        drill.check_judgement_works(DETECTION_LIMIT)
