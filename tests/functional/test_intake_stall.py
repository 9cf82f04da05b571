# SPDX-License-Identifier: Apache-2.0
"""A conductor that stops reading its reports queue (its intake process
frozen, as an overload or a stall would leave it) suspends its judgement:
a service whose reports wait in the queue is unknown, not down; a service
that died before is still down; once the intake reads again, the queued
heartbeats are all written and the service is up."""

import os
import signal
import time

from tests.functional import deployment as sg_deployment

TIMEOUT = 30


def intake_pids(conductor_pid):
    """The intake worker processes cotyledon forked for the conductor."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                parent = int(f.read().rsplit(')', 1)[1].split()[1])
            with open('/proc/%s/cmdline' % entry, 'rb') as f:
                command = f.read().decode(errors='replace')
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if parent == conductor_pid and 'intake worker' in command:
            pids.append(int(entry))
    return pids


def states(services, *hosts):
    return {host: services[host]['state'] for host in hosts}


def test_a_stalled_intake_calls_nobody_down(deployment):
    conductor = deployment.start_conductor()
    deployment.start_compute('live', '--host', 'live')
    dead = deployment.start_compute('dead', '--host', 'dead')
    deployment.wait_for_services(
        'both computes to be up', lambda s: 'live' in s and 'dead' in s
        and states(s, 'live', 'dead') == {'live': 'up', 'dead': 'up'},
        TIMEOUT)
    dead.stop(TIMEOUT)
    deployment.wait_for_services(
        'the stopped compute to be down',
        lambda s: s['dead']['state'] == 'down', TIMEOUT)

    (intake,) = intake_pids(conductor.pid)
    os.kill(intake, signal.SIGSTOP)
    try:
        time.sleep(sg_deployment.SERVICE_DOWN_TIME + 3)
        services = deployment.service_map()
        assert states(services, 'live', 'dead') == {
            'live': 'unknown', 'dead': 'down'}, services
        assert ('the conductor may not have read every report sent in the '
                'last') in services['live']['state_reason']
        stalled_count = services['live']['report_count']
    finally:
        os.kill(intake, signal.SIGCONT)

    # The live compute kept casting once a second: all of it was queued
    # and is written now.
    services = deployment.wait_for_services(
        'the live compute to be up again, its queued heartbeats written',
        lambda s: s['live']['state'] == 'up' and s['live']['report_count']
        >= stalled_count + sg_deployment.SERVICE_DOWN_TIME + 2, TIMEOUT)
    assert services['dead']['state'] == 'down'
    assert 'Traceback' not in deployment.read_log('conductor')
