# SPDX-License-Identifier: Apache-2.0
"""Switching a running deployment between the db and tooz drivers, step by
step as doc/liveness.rst describes, with real processes.

Only the conductor judges liveness, so the order of the restarts is what
keeps every compute up: computes first on the way to tooz, the conductor
first on the way back. Whenever a conductor runs, a thread lists services
over and over, and every listing must show every compute up, unchanged.
Each test then proves which driver is in effect at the end.
"""

import datetime
import signal
import threading
import time
import uuid

import pytest
from tooz import coordination

from sgconductor.servicegroup.drivers import tooz_driver
from tests.functional import backends
from tests.functional import deployment as sg_deployment

BINARY = 'nova-compute'
COMPUTES = 2
# Long enough that only the liveness backend can explain a quick "down",
# and that no compute stopped for a restart turns down with the db driver.
SERVICE_DOWN_TIME = 60
# Seconds for a (re)started compute to register (and join its group).
REGISTER_TIMEOUT = 30
# A compute sends a last report (and leaves its group) on SIGTERM.
COMPUTE_STOP_TIMEOUT = 15
# The backend URL's ?timeout=2, plus a listing or two.
DETECTION_LIMIT = 10
# How long a cleanly stopped compute must still be listed up with the db
# driver: well past the backend's ?timeout=2 and a report interval.
STILL_UP_AFTER = 5
# Seconds to wait for the listing thread's next listing.
LISTING_TIMEOUT = sg_deployment.MANAGE_TIMEOUT + 5
# Seconds between two listings: each sgconductor-manage run costs about a
# core for two seconds, which the processes under test need too.
LISTING_PAUSE = 1

DB = {'servicegroup': {'driver': 'db'}}
TOOZ = {'servicegroup': {'driver': 'tooz',
                         'backend_url': backends.url('redis')}}

# What operators read in a listing and what must not change while the
# driver is switched (report counts and timestamps move on, of course).
VIEW = ('id', 'uuid', 'binary', 'status', 'state', 'state_reason',
        'forced_down')


def view(services):
    return {host: {key: service[key] for key in VIEW}
            for host, service in services.items()}


class ListingWatch:
    """Runs ``service list`` over and over in a thread, keeping every
    listing with the monotonic time its command started.

    check() fails unless the thread never failed and every listing so far
    shows exactly the ``expected`` view; a clean exit checks too, and that
    there was a listing at all.
    """

    def __init__(self, deployment, expected):
        self.deployment = deployment
        self.expected = expected
        self.listings = []
        self.error = None
        self.began = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='service-list-watch')

    def _run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                services = self.deployment.service_map()
            except Exception as exc:
                self.error = exc
                return
            with self._lock:
                self.listings.append((started, services))
            self._stop.wait(LISTING_PAUSE)

    def check(self):
        if self.error is not None:
            raise self.error
        with self._lock:
            listings = list(self.listings)
        changed = [view(services) for _, services in listings
                   if view(services) != self.expected]
        assert changed == [], (
            '%d of %d listings differ from %r, the first: %r\n%s'
            % (len(changed), len(listings), self.expected, changed[0],
               self.deployment.describe()))
        return listings

    def listing_after(self, started):
        """The first listing whose command started at ``started`` or
        later (monotonic time), waiting for it if need be."""
        def found():
            return next((services for when, services in self.check()
                         if when >= started), None)
        return self.deployment.wait_for(
            'a listing started %.1f s into the watch'
            % (started - self.began), found,
            LISTING_TIMEOUT + max(0.0, started - time.monotonic()))

    def first(self):
        """The first listing, waiting for it if need be."""
        return self.listing_after(self.began)

    def __enter__(self):
        self.began = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._stop.set()
        self._thread.join()
        if exc_type is None:
            assert self.check(), 'no listing at all'


@pytest.fixture
def backend():
    """One database is enough here; the liveness backend is Redis."""
    return 'postgresql'


@pytest.fixture
def switching(request, broker, database, tmp_path):
    """A deployment whose processes each get their own servicegroup
    configuration (the shared file has none)."""
    deployment = sg_deployment.Deployment(
        tmp_path, database, service_down_time=SERVICE_DOWN_TIME)
    request.node.sg_deployment = deployment
    try:
        deployment.db_sync()
        yield deployment
    finally:
        deployment.cleanup()


@pytest.fixture
def observer():
    """A tooz coordinator on the Redis backend that only reads groups:
    it shows whether a compute really runs the tooz driver."""
    url = backends.url('redis')
    coordinator = coordination.get_coordinator(
        url, ('sgfunc-observer-%s' % uuid.uuid4().hex).encode())
    try:
        coordinator.start(start_heart=False)
    except coordination.ToozError as exc:
        pytest.fail('redis at %s: %s; run tools/test-setup.sh' % (url, exc),
                    pytrace=False)
    yield coordinator
    coordinator.stop()


@pytest.fixture
def hosts():
    """Host names no other test (or earlier run) has in the Redis group."""
    token = uuid.uuid4().hex[:8]
    return ['sw-%s-%d' % (token, i) for i in range(1, COMPUTES + 1)]


def members(observer, deployment, hosts):
    """Which of ``hosts`` are members of ``deployment``'s compute group
    right now."""
    with sg_deployment.configured_client(deployment):
        group_id = tooz_driver.group_id(BINARY)
        ids = {tooz_driver.member_id(BINARY, host): host for host in hosts}
    try:
        group = observer.get_members(group_id).get()
    except coordination.GroupNotCreated:
        group = set()
    return {host for member, host in ids.items() if member in group}


def registrations(deployment, host):
    return deployment.read_log('compute-%s' % host).count(
        'Registered %s on %s as service' % (BINARY, host))


def start_computes(deployment, hosts, sections):
    """Start a compute for each of ``hosts``; return {host: process} once
    all have registered."""
    before = {host: registrations(deployment, host) for host in hosts}
    started = {host: deployment.start_compute(host, '--host', host,
                                              sections=sections)
               for host in hosts}
    deployment.wait_for(
        '%s to register' % ', '.join(hosts),
        lambda: all(registrations(deployment, host) > before[host]
                    for host in hosts), REGISTER_TIMEOUT)
    return started


def restart_compute(deployment, computes, host, sections):
    """SIGTERM the compute of ``host``, wait for its exit, start it again
    with ``sections``; return once it has registered."""
    stop_compute(deployment, computes[host])
    computes.update(start_computes(deployment, [host], sections))


def stop_compute(deployment, process, signum=signal.SIGTERM):
    status = process.stop(COMPUTE_STOP_TIMEOUT, signum)
    expected = 0 if signum == signal.SIGTERM else -signum
    assert status == expected, deployment.describe()


def all_up(hosts):
    def predicate(services):
        return (set(services) == set(hosts)
                and all(s['state'] == 'up' for s in services.values()))
    return predicate


def start_deployment(deployment, hosts, sections):
    """A conductor and a compute per host, all on ``sections``; return
    ({host: process}, the listing once all are up, with no reason)."""
    deployment.start_conductor(sections=sections)
    computes = start_computes(deployment, hosts, sections)
    before = deployment.wait_for_services('all computes up', all_up(hosts),
                                          REGISTER_TIMEOUT)
    assert all(s['state_reason'] is None for s in before.values())
    return computes, before


def test_db_to_tooz(switching, observer, hosts):
    d = switching
    computes, before = start_deployment(d, hosts, DB)
    assert members(observer, d, hosts) == set()

    # Step 2: the computes, one by one. Each joins its group; the
    # conductor, still on db, ignores membership.
    with ListingWatch(d, view(before)):
        for host in hosts:
            restart_compute(d, computes, host, TOOZ)
            d.wait_for('%s to join its group' % host,
                       lambda host=host: members(observer, d, [host]),
                       REGISTER_TIMEOUT)
        # Meanwhile: every compute runs tooz, the list looks unchanged.
        assert members(observer, d, hosts) == set(hosts)
        assert view(d.service_map()) == view(before)

    # Step 3: the conductor.
    d.stop_conductor()
    d.start_conductor(sections=TOOZ)
    with ListingWatch(d, view(before)) as watch:
        watch.first()

    # Membership counts now: a killed compute drops out of its group and
    # is down within seconds, long before service_down_time.
    victim, steady = hosts
    stop_compute(d, computes[victim], signal.SIGKILL)
    killed = time.monotonic()
    services = d.wait_for_services(
        'the killed compute to be down',
        lambda s: s[victim]['state'] == 'down', DETECTION_LIMIT)
    print('killed compute down after %.1f s' % (time.monotonic() - killed))
    assert services[victim]['state_reason'] == (
        'missing from the liveness backend')
    assert services[steady]['state'] == 'up'
    assert members(observer, d, hosts) == {steady}

    # Brought back with the old configuration, it reports again but stays
    # down: the signal to fix its configuration.
    start_computes(d, [victim], DB)
    back = d.service_map()
    assert (datetime.datetime.fromisoformat(back[victim]['last_seen_up'])
            > datetime.datetime.fromisoformat(
                services[victim]['last_seen_up']))
    assert back[victim]['state'] == 'down'
    assert back[victim]['state_reason'] == (
        'missing from the liveness backend')
    assert back[steady]['state'] == 'up'


def test_tooz_to_db(switching, observer, hosts):
    d = switching
    computes, before = start_deployment(d, hosts, TOOZ)
    assert members(observer, d, hosts) == set(hosts)
    with ListingWatch(d, view(before)) as watch:
        watch.first()

    # The conductor first: membership stops counting.
    d.stop_conductor()
    d.start_conductor(sections=DB)
    with ListingWatch(d, view(before)) as watch:
        # Then the computes. Each leaves its group when it stops, which
        # the conductor no longer looks at.
        for host in hosts:
            stop_compute(d, computes[host])
            assert members(observer, d, [host]) == set()
            computes.update(start_computes(d, [host], DB))
        assert members(observer, d, hosts) == set()

        # A cleanly stopped compute stays up until service_down_time.
        stopped = hosts[0]
        stop_compute(d, computes[stopped])
        exited = time.monotonic()
        later = watch.listing_after(exited + STILL_UP_AFTER)
        assert later[stopped]['state'] == 'up'
        assert later[stopped]['state_reason'] is None
