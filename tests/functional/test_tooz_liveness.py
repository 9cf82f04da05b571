# SPDX-License-Identifier: Apache-2.0
"""Real processes on real tooz backends: a SIGKILLed reporter is noticed by
its backend long before service_down_time, and a deleted one leaves."""

import signal
import time

import pytest

from tests.functional import backends
from tests.functional import deployment as sg_deployment

# Long enough that only the liveness backend can explain a quick "down".
SERVICE_DOWN_TIME = 60
# A backend URL's ?timeout=2, plus a listing or two.
DETECTION_LIMIT = 10
BINARY = 'nova-compute'


@pytest.fixture
def backend():
    """One database is enough here; the liveness backend varies."""
    return 'postgresql'


@pytest.fixture(params=backends.NAMES)
def tooz_deployment(request, broker, database, tmp_path):
    deployment = sg_deployment.Deployment(
        tmp_path, database, service_down_time=SERVICE_DOWN_TIME,
        servicegroup={'driver': 'tooz',
                      'backend_url': backends.url(request.param)})
    request.node.sg_deployment = deployment
    deployment.db_sync()
    yield deployment
    deployment.cleanup()


def test_sigkilled_reporter_is_down_within_seconds(tooz_deployment):
    d = tooz_deployment
    d.start_conductor()
    victim = d.start_compute('victim', '--host', 'victim')
    d.start_compute('steady', '--host', 'steady')
    d.wait_for_services('both up', lambda s: {
        h: x['state'] for h, x in s.items()} == {'victim': 'up',
                                                  'steady': 'up'}, 30)
    victim.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    services = d.wait_for_services(
        'the killed reporter to be down',
        lambda s: s['victim']['state'] == 'down', DETECTION_LIMIT)
    print('detected in %.1f s' % (time.monotonic() - killed))
    assert services['victim']['state_reason'] == (
        'missing from the liveness backend')
    assert services['steady']['state'] == 'up'


def test_deleted_running_reporter_leaves_and_learns_it(tooz_deployment):
    d = tooz_deployment
    d.start_conductor()
    d.start_compute('doomed', '--host', 'doomed')
    d.wait_for_services('doomed up', lambda s: s.get('doomed', {}).get(
        'state') == 'up', 30)
    d.manage_ok('service', 'delete', 'doomed', BINARY)
    d.wait_for('the reporter to learn it was deleted',
               lambda: 'was deleted by an operator'
               in d.read_log('compute-doomed'), DETECTION_LIMIT)
    time.sleep(2 * sg_deployment.REPORT_INTERVAL)
    assert d.services() == []


def test_conductor_refuses_an_unreachable_backend(broker, database,
                                                  tmp_path):
    d = sg_deployment.Deployment(
        tmp_path, database,
        servicegroup={'driver': 'tooz',
                      'backend_url': 'memcached://127.0.0.1:1?timeout=2'})
    try:
        d.db_sync()
        conductor = d.start_conductor(wait=False)
        assert conductor.wait(30) == 1
        assert 'cannot reach the liveness backend' in d.read_log('conductor')
    finally:
        d.cleanup()
