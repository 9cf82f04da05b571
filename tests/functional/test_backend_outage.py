# SPDX-License-Identifier: Apache-2.0
"""The liveness backend goes away while a real deployment runs.

A private Redis server is the tooz backend of a conductor and three
computes. It is SIGKILLed and, seconds later, started again on the same
port, empty (no persistence): every tooz group is gone. Meanwhile:

* the computes are unknown, never down, and the conductor keeps serving;
* the reporters rejoin by themselves, and until they have, the conductor's
  grace period after the outage keeps them unknown rather than down;
* the database loses nothing: reports kept arriving throughout;
* once the grace period is over, a killed compute is down within seconds.
"""

import datetime
import signal
import time

import pytest

from sgconductor import version
from tests.functional import deployment as sg_deployment
from tests.functional import redis_server
from tests.functional import watcher as watcher_lib

# Long enough that only the liveness backend can explain a state change.
SERVICE_DOWN_TIME = 60
BINARY = 'nova-compute'
HOSTS = ('cn1', 'cn2', 'cn3')
# Seconds to wait for the computes to be up after start.
START_LIMIT = 30
# Seconds from the kill until every compute reads unknown.
OUTAGE_LIMIT = 10
# Seconds the backend stays away: several report intervals.
OUTAGE_SECONDS = 6
# Seconds between two listings of the outage that must see new reports:
# a reporter's membership check may take seconds to fail before it reports.
REPORTS_WINDOW = 8
# Seconds from the restart until every compute is up again.
RECOVERY_LIMIT = 20
# Seconds from killing a compute until it is down, grace period included.
DETECTION_LIMIT = 15

UNAVAILABLE = 'liveness backend unavailable'
MISSING = 'missing from the liveness backend'
REJOINING = 'is no longer a member of its group; registering again.'
LOST = 'Lost contact with the liveness backend'
RECOVERED = 'Contact with the liveness backend recovered.'

@pytest.fixture
def backend():
    """One database is enough here; the liveness backend is the point."""
    return 'postgresql'


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own, to kill; always cleaned up."""
    try:
        server = redis_server.RedisServer(tmp_path)
        server.start()
        problem = None
    except redis_server.Unavailable as exc:
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)
    yield server
    server.cleanup()


@pytest.fixture
def outage_deployment(request, broker, database, tmp_path, private_redis):
    deployment = sg_deployment.Deployment(
        tmp_path, database, service_down_time=SERVICE_DOWN_TIME,
        servicegroup={'driver': 'tooz', 'backend_url': private_redis.url()})
    # Failure reports then show the Redis output too.
    deployment.processes.append(private_redis.process)
    request.node.sg_deployment = deployment
    deployment.db_sync()
    yield deployment
    deployment.cleanup()


class Listings:
    """Every ``service list`` taken while the backend is in trouble.

    None of them may show a compute down or lose or duplicate a row.
    """

    def __init__(self, deployment):
        self.deployment = deployment
        self.started = time.monotonic()
        self.seen = []

    def history(self):
        return '\n'.join('%6.1f s  %s' % (at, ', '.join(
            '%s: %s (%s)' % (s['host'], s['state'], s['state_reason'])
            for s in rows)) for at, rows in self.seen)

    def fail(self, message):
        raise AssertionError('%s\nlistings since the kill:\n%s\n%s'
                             % (message, self.history(),
                                self.deployment.describe()))

    def take(self):
        """One listing, checked; as {host: service}."""
        rows = self.deployment.services()
        self.seen.append((time.monotonic() - self.started, rows))
        hosts = sorted(s['host'] for s in rows)
        if hosts != sorted(HOSTS):
            self.fail('expected one row per compute, got hosts %s' % hosts)
        down = [s['host'] for s in rows if s['state'] == 'down']
        if down:
            self.fail('%s shown down' % ', '.join(down))
        return {s['host']: s for s in rows}

    def until(self, what, predicate, timeout):
        """Take listings until ``predicate(listing)``; return that one."""
        deadline = time.monotonic() + timeout
        while True:
            services = self.take()
            if predicate(services):
                return services
            if time.monotonic() >= deadline:
                self.fail('timed out after %s s waiting for %s'
                          % (timeout, what))
            time.sleep(0.1)


def states(services):
    return {host: s['state'] for host, s in services.items()}


def all_unavailable(services):
    return all(s['state'] == 'unknown'
               and (s['state_reason'] or '').startswith(UNAVAILABLE)
               for s in services.values())


def report_counts(services):
    return {host: s['report_count'] for host, s in services.items()}


def assert_running(d, *children):
    dead = [p.name for p in children if not p.running()]
    assert not dead, '%s exited\n%s' % (', '.join(dead), d.describe())


def check_watched(samples, killed, restarted):
    """No listing the watcher took failed, lost a row or showed a compute
    down; return how many it answered after the restart while some
    compute was not up yet."""
    timeline = []
    problems = []
    rejoining = 0
    for asked, answered, rows in samples:
        line = '%7.2f-%.2f s  %s' % (asked - killed, answered - killed, rows)
        timeline.append(line)
        if isinstance(rows, str):
            problems.append('failed: ' + line)
            continue
        if sorted(host for host, _, _ in rows) != sorted(HOSTS):
            problems.append('rows lost or duplicated: ' + line)
        if any(state == 'down' for _, state, _ in rows):
            problems.append('down: ' + line)
        if answered > restarted and any(state != 'up'
                                        for _, state, _ in rows):
            rejoining += 1
    assert not problems, '%s\nlistings (seconds since the kill):\n%s' % (
        '\n'.join(problems), '\n'.join(timeline))
    return rejoining


def test_backend_outage_and_recovery(outage_deployment, private_redis):
    d, redis = outage_deployment, private_redis
    conductor = d.start_conductor()
    computes = {host: d.start_compute(host, '--host', host)
                for host in HOSTS}
    all_up = {host: 'up' for host in HOSTS}
    before = d.wait_for_services('every compute up',
                                 lambda s: states(s) == all_up, START_LIMIT)
    watcher = watcher_lib.StateWatcher(d)
    watcher.start()

    # The outage: the conductor still answers, judging no one down.
    redis.kill()
    killed = time.time()
    listings = Listings(d)
    outage = listings.until('every compute unknown, backend unavailable',
                            all_unavailable, OUTAGE_LIMIT)
    print('unknown after %.1f s' % listings.seen[-1][0])
    assert d.manage_ok('service', 'disable', 'cn1', BINARY, '--reason',
                       'backend outage drill') == (
        'Service %s on cn1 disabled.\n' % BINARY)
    assert d.manage_ok('service', 'enable', 'cn1', BINARY) == (
        'Service %s on cn1 enabled.\n' % BINARY)
    assert d.manage_json('service', 'min-version', BINARY) == {
        BINARY: version.SERVICE_VERSION}
    assert_running(d, conductor, *computes.values())
    # Stay away for several report intervals, and long enough after the
    # first unknown listing for every compute to have reported since.
    outage_at = listings.seen[-1][0]
    while True:
        late = listings.take()
        if not all_unavailable(late):
            listings.fail('a compute is no longer unknown while the backend '
                          'is away')
        now = time.monotonic() - listings.started
        if now >= OUTAGE_SECONDS and now - outage_at >= REPORTS_WINDOW:
            break
        time.sleep(0.2)

    # The backend comes back empty; the reporters rejoin by themselves.
    d.processes.append(redis.start())
    restarted = time.time()
    watcher.go()
    recovered = listings.until('every compute up again',
                               lambda s: states(s) == all_up,
                               RECOVERY_LIMIT)
    print('up again %.1f s after the restart' % (time.time() - restarted))
    rejoining = check_watched(watcher.stop(), killed, restarted)
    print('%d listings while they rejoined' % rejoining)
    assert_running(d, conductor, *computes.values())

    # Nothing in the database was lost, and reports kept arriving.
    for host in HOSTS:
        assert recovered[host]['uuid'] == before[host]['uuid']
        assert recovered[host]['status'] == 'enabled'
        assert recovered[host]['disabled_reason'] is None
        assert (datetime.datetime.fromisoformat(late[host]['last_seen_up'])
                > datetime.datetime.fromisoformat(
                    outage[host]['last_seen_up'])), host
    counts = [report_counts(s) for s in (before, outage, late, recovered)]
    for host in HOSTS:
        mine = [c[host] for c in counts]
        print('%s report counts: %s' % (host, mine))
        assert mine[0] <= mine[1] < mine[2] <= mine[3], (host, mine)

    # Every reporter noticed the outage, and that it had been dropped.
    for host in HOSTS:
        log = d.read_log('compute-%s' % host)
        assert LOST in log and RECOVERED in log, host
        assert REJOINING in log, host
    conductor_log = d.read_log('conductor')
    lost = conductor_log.find(LOST)
    assert 0 <= lost < conductor_log.find(RECOVERED, lost), (
        'the conductor log should tell the outage and the recovery\n'
        + d.describe())

    # Past the grace period, a killed compute is caught quickly again.
    victim = computes['cn3']
    victim.send_signal(signal.SIGKILL)
    victim_killed = time.monotonic()
    services = d.wait_for_services(
        'the killed compute to be down',
        lambda s: s['cn3']['state'] == 'down', DETECTION_LIMIT)
    print('killed compute down in %.1f s'
          % (time.monotonic() - victim_killed))
    assert services['cn3']['state_reason'] == MISSING
    assert states(services) == {'cn1': 'up', 'cn2': 'up', 'cn3': 'down'}
    assert services['cn1']['report_count'] > recovered['cn1']['report_count']
