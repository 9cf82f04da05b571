# SPDX-License-Identifier: Apache-2.0
"""sgconductor-manage when the conductor or the broker is not there.

Either way: exit status 1, exactly one line on stderr, no traceback, and
no hanging.
"""

import time

from tests.functional import deployment as sg_deployment
from tests.functional.deployment import one_line

CALL_TIMEOUT = sg_deployment.CALL_TIMEOUT
# Start-up of the command and closing its connections, on a loaded
# 2-core machine.
OVERHEAD = 10


def _run(deployment, *args):
    started = time.monotonic()
    result = deployment.manage(*args)
    return result, time.monotonic() - started


def _assert_one_line_failure(result):
    assert result.returncode == 1, result
    assert 'Traceback' not in result.stderr + result.stdout, result
    assert result.stdout == '', result
    return one_line(result.stderr)


def test_no_conductor_consuming(brokered_deployment):
    # Nobody consumes this deployment's unique topic.
    result, elapsed = _run(brokered_deployment, 'service', 'list')
    line = _assert_one_line_failure(result)
    assert 'Cannot reach the conductor' in line, line
    assert brokered_deployment.topic in line, line
    assert CALL_TIMEOUT <= elapsed < CALL_TIMEOUT + OVERHEAD, elapsed


def test_no_broker(tmp_path, request):
    deployment = sg_deployment.Deployment(
        tmp_path, transport_url='rabbit://guest:guest@127.0.0.1:1/')
    request.node.sg_deployment = deployment
    result, elapsed = _run(deployment, 'service', 'list')
    line = _assert_one_line_failure(result)
    assert 'no RabbitMQ broker reachable' in line, line
    assert '127.0.0.1:1' in line, line
    # It gives up without waiting for a call to time out.
    assert elapsed < CALL_TIMEOUT, elapsed
