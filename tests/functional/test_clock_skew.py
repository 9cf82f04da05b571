# SPDX-License-Identifier: Apache-2.0
"""Computes whose clocks are an hour ahead and an hour behind (libfaketime,
installed by tools/test-setup.sh), beside one on time.

* All three are up, and listed with their clock skew (the CLI's "Clock
  Skew" column); the conductor logs a warning for the two off.
* Judged exactly alike: killed at the same moment, the three are listed
  down within a report interval (the phase of their last report) and a
  second of each other, about service_down_time after the kill.
"""

import os
import shutil
import signal
import time

import pytest

from tests.functional import deployment as sg_deployment
from tests.functional import watcher as watcher_lib

OFFSETS = {'ahead': ('+1h', 3600), 'behind': ('-1h', -3600),
           'on-time': (None, 0)}
TIMEOUT = 30
# Seconds a measured skew may differ from the clock's offset: the call's
# transit, and rounding.
SKEW_SLACK = 2
WARNING = 'The clock of nova-compute on %s is'


def faketime(offset):
    """The command that runs a process with its clock off by ``offset``
    (monotonic clocks are left alone: timers and timeouts use those)."""
    if offset is None:
        return ()
    binary = shutil.which('faketime')
    if binary is None:
        pytest.fail('faketime is not installed: run tools/test-setup.sh',
                    pytrace=False)
    return ('env', 'FAKETIME_DONT_FAKE_MONOTONIC=1', binary, '-f', offset)


def first_down(samples):
    """{host: the first time (time.time()) a listing showed it down}."""
    seen = {}
    for _, answered, rows in samples:
        if isinstance(rows, str):
            continue
        for host, state, _ in rows:
            if state == 'down':
                seen.setdefault(host, answered)
    return seen


def test_a_skewed_clock_is_judged_like_a_correct_one(deployment):
    d = deployment
    d.start_conductor()
    computes = {host: d.start_compute(host, '--host', host,
                                      wrapper=faketime(offset))
                for host, (offset, _) in OFFSETS.items()}
    services = d.wait_for_services(
        'the three computes up', lambda s: sorted(s) == sorted(OFFSETS)
        and all(x['state'] == 'up' for x in s.values()), TIMEOUT)
    for host, (_, seconds) in OFFSETS.items():
        print('%s: clock skew %s s' % (host, services[host]['clock_skew']))
        assert abs(services[host]['clock_skew'] - seconds) <= SKEW_SLACK
    table = d.manage_ok('service', 'list')
    assert 'Clock Skew' in table, table
    for host in OFFSETS:
        assert ' %d ' % services[host]['clock_skew'] in table, table
    log = d.read_log('conductor')
    assert WARNING % 'ahead' in log and WARNING % 'behind' in log
    assert WARNING % 'on-time' not in log

    watcher = watcher_lib.StateWatcher(d)
    watcher.start()
    watcher.go()
    for compute in computes.values():
        os.killpg(compute.pid, signal.SIGKILL)
    killed = time.time()
    d.wait_for_services('the three computes down', lambda s: all(
        x['state'] == 'down' for x in s.values()), TIMEOUT)
    time.sleep(0.5)
    down = first_down(watcher.stop())
    assert sorted(down) == sorted(OFFSETS), down
    after = {host: round(at - killed, 2) for host, at in down.items()}
    print('listed down after (s): %s' % after)
    # The phase of their last report (a report interval), and a second
    # of rounding (last_seen_up is stored to the second, rounded up).
    spread = max(after.values()) - min(after.values())
    assert spread <= sg_deployment.REPORT_INTERVAL + 1.5, after
