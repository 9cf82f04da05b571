# SPDX-License-Identifier: Apache-2.0
"""The database unreachable for 60 s under a running fleet.

The conductor reaches its database through a TCP proxy of this test's
own (``tcp_proxy.py``); cutting it drops every connection and refuses new
ones, as a database server that went away would. Meanwhile
(``outages.Drill``):

* the conductor keeps consuming reports and counts them in memory, one
  entry per service; nothing is written, so nobody can be judged down;
* reads and admin calls fail within seconds with one line naming the
  database, never a timeout, never a traceback;
* a service that starts during the outage registers once it is back;
* the reports of a service that must be written through (here one that
  reports without a uuid, never having registered, and changes
  its version meanwhile) are kept, the latest per service, and written
  once it is back: the new version and every report counted;
* within seconds of recovery every heartbeat received meanwhile is
  written (the report counts grow by the outage's reports), nobody was
  listed or notified down, and a killed compute is still caught.
"""

import time

import pytest

from sgconductor.conductor import rpcapi as conductor_rpcapi
from tests.functional import deployment as sg_deployment
from tests.functional import outages

REPORT_INTERVAL = outages.REPORT_INTERVAL
SERVICE_DOWN_TIME = outages.SERVICE_DOWN_TIME
OUTAGE_SECONDS = 60
# Seconds a CLI call may take while the database is away: a Python start,
# a call, and the conductor's attempts to reconnect.
FAIL_FAST = 10
# Seconds from recovery until every report kept meanwhile is listed.
RECOVERY_LIMIT = 15
DETECTION_LIMIT = SERVICE_DOWN_TIME + 15
# A service that starts during the outage (a binary of its own, so that
# the fleet's listings do not include it).
LATE_BINARY = 'nova-scheduler'
# A service reporting without a uuid: every report is written through.
UNKNOWN = {'host': 'legacy', 'binary': 'nova-consoleauth', 'version': 1}

LOST = 'Lost contact with the database (heartbeat flush)'
RECOVERED = 'Contact with the database (heartbeat flush) recovered.'


@pytest.fixture
def deployment(request, broker, database, tmp_path):
    """The ``client`` fixture's too."""
    yield from outages.deployment(request, database, tmp_path)


def fails_fast(d, *args):
    """Run sgconductor-manage; it must fail within FAIL_FAST s with one
    line about the database. Returns that line."""
    started = time.monotonic()
    result = d.manage(*args)
    took = time.monotonic() - started
    assert result.returncode != 0, result.stdout
    line = sg_deployment.one_line(result.stderr)
    assert 'database' in line, line
    assert took < FAIL_FAST, '%s took %.1f s' % (' '.join(args), took)
    print('%s: %.1f s: %s' % (' '.join(args), took, line))
    return line


def test_database_outage_under_load(deployment, db_proxy, client):
    d = deployment
    ctxt = conductor_rpcapi.admin_context()
    with outages.Drill(d, conductor_sections={
            'database': {'connection': db_proxy.url()}}) as drill:
        client.report_state(ctxt, UNKNOWN)
        d.wait_for('the service without a uuid listed',
                   lambda: d.services(binary=UNKNOWN['binary']),
                   RECOVERY_LIMIT)
        db_proxy.cut()
        cut = time.time()
        fails_fast(d, 'service', 'list')
        fails_fast(d, 'service', 'disable', 'cn1', 'nova-compute')
        fails_fast(d, 'service', 'min-version', 'nova-compute')
        drill.children.append(d.start_compute(
            'late', '--host', 'late', '--binary', LATE_BINARY))
        sent = 0
        while time.time() < cut + OUTAGE_SECONDS:
            # Upgraded half way through.
            version = 1 if time.time() < cut + OUTAGE_SECONDS / 2 else 2
            client.report_state(ctxt, dict(UNKNOWN, version=version))
            sent += 1
            time.sleep(REPORT_INTERVAL)
        drill.assert_running()

        db_proxy.restore()
        restored = time.time()
        after = drill.wait_until_listed('every service up again',
                                        outages.all_up, RECOVERY_LIMIT)
        print('every service up %.1f s after the database came back'
              % (time.time() - restored))
        # Counted during the outage, written after it.
        gained = min(after[host]['report_count']
                     - drill.before[host]['report_count']
                     for host in outages.HOSTS)
        print('every service gained at least %d reports' % gained)
        assert gained >= OUTAGE_SECONDS / REPORT_INTERVAL - 2
        (late,) = d.wait_for(
            'the late service registered and up',
            lambda: [s for s in d.services(binary=LATE_BINARY)
                     if s['state'] == 'up'], RECOVERY_LIMIT)
        assert late['host'] == 'late'
        # The database away is an outage to it too: told once, quietly.
        late_log = d.read_log('compute-late')
        assert 'Traceback' not in late_log, late_log
        assert late_log.count('Lost contact with the conductor') == 1
        assert late_log.count('Contact with the conductor recovered.') == 1
        # Refused again at every retry, logged once (conductor/rejected.py).
        assert d.read_log('conductor').count('Registration refused') <= 2
        (legacy,) = d.wait_for(
            'the reports kept for the service without a uuid written',
            lambda: [s for s in d.services(binary=UNKNOWN['binary'])
                     if s['version'] == 2], RECOVERY_LIMIT)
        assert legacy['report_count'] == 1 + sent
        assert d.service_map()['cn1']['status'] == 'enabled'

        time.sleep(2 * REPORT_INTERVAL)
        drill.check_recovery(cut, restored + RECOVERY_LIMIT, after)
        drill.conductor_log_since(LOST, RECOVERED)

        drill.check_judgement_works(DETECTION_LIMIT)
