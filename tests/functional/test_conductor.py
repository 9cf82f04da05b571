# SPDX-License-Identifier: Apache-2.0
"""sgconductor-conductor as a process: start-up checks and SIGTERM."""

import signal

from tests.functional.deployment import one_line

# The conductor must stop within this many seconds of SIGTERM.
STOP_TIMEOUT = 15
# ... and refuse to start on an unsynced database within this many.
REFUSE_TIMEOUT = 30


def test_conductor_stops_cleanly_on_sigterm(deployment):
    conductor = deployment.start_conductor()
    status = conductor.stop(STOP_TIMEOUT, signal.SIGTERM)
    assert status == 0, deployment.describe()
    log = deployment.read_log('conductor')
    assert 'Conductor worker 0 stopped.' in log, deployment.describe()
    assert 'Traceback' not in log, deployment.describe()


def test_conductor_refuses_unsynced_database(unsynced_deployment):
    deployment = unsynced_deployment
    conductor = deployment.start_conductor(wait=False)
    status = conductor.wait(REFUSE_TIMEOUT)
    assert status not in (None, 0), deployment.describe()
    with open(conductor.output_file) as f:
        output = f.read()
    line = one_line(output)
    assert line.startswith('sgconductor-conductor: error: '), output
    assert 'db sync' in line, output
    assert 'Traceback' not in deployment.read_log('conductor')
