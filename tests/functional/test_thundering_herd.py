# SPDX-License-Identifier: Apache-2.0
"""A thundering herd: 10,000 services starting at the same moment.

Runs ``tools/bench_herd.py`` (a real conductor, MariaDB and RabbitMQ; the
herd simulated by its traffic, see ``tools/heartbeat_fleet.py``) and
checks what must hold on any machine: every service registered with a
single call (none timed out), one row each; neither queue ever held more
than one message per service; the first reports spread over the report
interval instead of following the registrations; nobody was ever judged
down or unknown; and the herd was taken in within the run. How fast (the
target: within two report intervals) is the benchmark's to measure and
doc/scale.rst's to record: on a shared machine a timed assertion would
fail for the machine, not for the code.
"""

import json
import os
import subprocess
import sys

SERVICES = 10000
# Seconds the whole run may take: deployment, the herd, teardown.
RUN_LIMIT = 300
# The busiest second of first reports, against the steady rate: evenly
# spread, about 1; following 10,000 registrations answered in a few
# seconds (no jitter), 2 or more.
JITTERED = 1.6
BENCH = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir,
                     'tools', 'bench_herd.py')


def test_ten_thousand_services_starting_at_once(broker):
    run = subprocess.run(
        [sys.executable, BENCH, '--services', str(SERVICES), '--json'],
        capture_output=True, text=True, timeout=RUN_LIMIT)
    assert run.returncode == 0, run.stderr[-3000:]
    herd = json.loads(run.stdout.strip().splitlines()[-1])
    print(herd)
    assert (herd['rows'], herd['failed']) == (SERVICES, 0)
    assert herd['depth_calls'] <= SERVICES
    assert herd['depth_reports'] <= SERVICES
    assert herd['peak_vs_steady'] < JITTERED
    assert (herd['down'], herd['unknown']) == (0, 0)
    assert herd['drained'] is not None
