# SPDX-License-Identifier: Apache-2.0
"""One of two conductors cut off from its database for a while, its link
to the broker intact: the other serves everything, and nobody is called
down.

Conductor A reaches the database through a TCP proxy of this test's own
(``tcp_proxy.py``); cutting it drops every connection and refuses new
ones, as a database node that went away would. Conductor B reaches the
database directly. Meanwhile (``outages.Drill``, whose watcher lists
services back to back):

* A stops taking heartbeats and calls (each of its own consumers lets
  go of its queue while B's takes from it; oslo.messaging's RPC server
  refuses at once, and clients ask again: gate.py) and says so once;
  what it took before is judged as held (``progress.py``), so no service
  whose last heartbeat only A had is called down;
* A is listed up (it runs, and reports through B) but disabled, with
  the reason, as nova-compute disables itself when it loses its
  hypervisor;
* no listing shows a live service down, nor does any ``service.state``
  notification, and listings fail for a few seconds at most;
* once A's database is back, A takes heartbeats and calls again, says
  so once, and enables itself; nothing stored is lost, and a killed
  compute is still caught.
"""

import json
import socket
import time

import pytest

from sgconductor.conductor import progress
from tests.functional import outages

OUTAGE_SECONDS = 30
# Seconds from recovery until every service is listed up by a conductor.
RECOVERY_LIMIT = 20
DETECTION_LIMIT = (outages.SERVICE_DOWN_TIME + progress.STUCK_AFTER
                   + 2 * outages.REPORT_INTERVAL + 15)
PAUSED = 'The %s stops taking from'
RESUMED = 'The %s takes from'
CONSUMERS = ('heartbeat intake', 'version server', 'registration server')
# Seconds listings may fail: while a call in hand of the cut-off
# conductor, or taken before it let go of its queue, is refused.
FAILED_IN_A_ROW = 5
FAILED_IN_ALL = 10


@pytest.fixture
def deployment(request, broker, database, tmp_path):
    yield from outages.deployment(request, database, tmp_path)


@pytest.fixture
def backend():
    return 'mysql'


def conductor_row(d):
    """The row of the conductor cut off (on this machine's host name), or
    {} if the CLI got no answer."""
    result = d.manage('service', 'list', '--binary', 'sgconductor-conductor',
                      '--host', socket.gethostname(), '--format', 'json')
    if result.returncode != 0:
        return {}
    (row,) = json.loads(result.stdout)
    return row


def test_a_conductor_cut_off_from_its_database(deployment, db_proxy,
                                               client):
    d = deployment
    with outages.Drill(d, conductor_sections={
            'database': {'connection': db_proxy.url()}}) as drill:
        other = d._start('conductor-b', 'sgconductor-conductor',
                         sections={'DEFAULT': {'host': 'conductor-b'}})
        drill.children.append(other)
        d.wait_for('the second conductor to consume', lambda: (
            'consuming topic' in d.read_log('conductor-b')), 30)
        db_proxy.cut()
        cut = time.time()
        d.wait_for('the cut-off intake to let go of its queue',
                   lambda: PAUSED % CONSUMERS[0] in d.read_log('conductor'),
                   15)
        # Running, so listed up; disabled, with why.
        row = d.wait_for('the cut-off conductor disabled', lambda: (
            lambda row: row if row.get('status') == 'disabled' else None)(
            conductor_row(d)), 15)
        assert row['state'] == 'up', row
        assert row['disabled_reason'].startswith(
            'AUTO: cannot write to its database: '), row
        time.sleep(max(0, cut + OUTAGE_SECONDS - time.time()))
        drill.assert_running()

        db_proxy.restore()
        restored = time.time()
        d.wait_for('the intake taking heartbeats again',
                   lambda: RESUMED % CONSUMERS[0] in d.read_log('conductor'),
                   RECOVERY_LIMIT)
        after = drill.wait_until_listed('every service up',
                                        outages.all_up, RECOVERY_LIMIT)
        print('A took heartbeats again %.1f s after its database came back'
              % (time.time() - restored))
        time.sleep(2 * outages.REPORT_INTERVAL)
        drill.check_recovery(cut, restored + RECOVERY_LIMIT, after)
        # Answered throughout, by the other conductor, but for a few
        # seconds.
        drill.check_failed_listings(FAILED_IN_A_ROW, FAILED_IN_ALL)
        log = d.read_log('conductor')
        for consumer in CONSUMERS:
            assert log.count(PAUSED % consumer) == 1, (consumer, log)
            assert log.count(RESUMED % consumer) == 1, (consumer, log)
        d.wait_for('the conductor enabled again', lambda: (
            conductor_row(d).get('status') == 'enabled'), RECOVERY_LIMIT)
        drill.check_judgement_works(DETECTION_LIMIT)
