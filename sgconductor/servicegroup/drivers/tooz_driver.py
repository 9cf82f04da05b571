# SPDX-License-Identifier: Apache-2.0
"""Liveness from tooz group membership, on top of the DB heartbeats.

Each reporter joins the group named after its binary, with a member id
unique to (binary, host), and its tooz coordinator heartbeats the backend.
A killed reporter drops out of the group within the backend's timeout
(``?timeout=`` in backend_url), far sooner than service_down_time.

A service is up only if its DB record is fresh (what the db driver judges)
AND the backend lists it as a member. Membership is read once per binary
per listing. When the backend cannot be read, the state is unknown (None),
with the reason, rather than down: the conductor must not declare a fleet
dead because its own backend hiccupped. For the same reason a service
missing from its group is unknown, not down, for a grace period after such
an outage (see BackendWatch), and so is a service registered less than
that grace period ago (it may not have managed to join yet: a backend
electing a new leader makes it wait).

tooz lets a member leave only itself, so to remove a deleted service the
conductor briefly becomes that member (a coordinator with the same member
id) and leaves the group; the still-running reporter notices that it is no
longer a member, registers again and learns that it was deleted.
"""

import functools
import math
import os
import threading
import time
import urllib.parse

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_log import log as logging
from tooz import coordination

from sgconductor import exception
from sgconductor import outage
from sgconductor.servicegroup.drivers import base
from sgconductor.servicegroup.drivers import db

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# tooz backends that implement group membership.
GROUP_SCHEMES = ('zookeeper', 'kazoo', 'redis', 'rediss', 'memcached',
                 'etcd3+http', 'etcd3+https', 'file')

# Seconds the conductor waits for the backend at start before giving up.
START_TIMEOUT = 10
# Seconds any other backend operation may take before it counts as failed.
# tooz retries some failures for a long time (a read from a dead Redis takes
# seconds, its heartbeat a minute); nothing here waits that long.
BACKEND_TIMEOUT = 2.0

MISSING = base.State(False, 'missing from the liveness backend')
JOINING = base.State(None, 'registered moments ago; not a member of its '
                           'group yet')
RECOVERING = base.State(None, 'liveness backend recovering from an outage; '
                              'waiting for the service to rejoin')


def prefix():
    """What every group and member id of this deployment starts with:
    ``[servicegroup] group_prefix``, or by default the deployment's own
    coordinates on the broker (control exchange, conductor topic, virtual
    host), so that deployments sharing one backend never read, join or
    leave each other's groups."""
    configured = CONF.servicegroup.group_prefix
    if configured is not None:
        return configured
    virtual_host = messaging.TransportURL.parse(
        CONF, CONF.transport_url).virtual_host or '/'
    return ''.join(urllib.parse.quote(part, safe='') + '.' for part in (
        CONF.control_exchange, CONF.conductor.topic, virtual_host))


def member_id(binary, host):
    """Unique to (deployment, binary, host): redis and memcached key
    heartbeats by member id alone, across groups."""
    return ('%s%s:%s' % (prefix(), binary, host)).encode()


def group_id(binary):
    return (prefix() + binary).encode()


def check_url(url):
    """Refuse a backend_url whose backend has no group membership."""
    if not url:
        raise exception.ConfigInvalid(
            option='[servicegroup] backend_url',
            reason='the tooz driver needs a backend URL, e.g. '
                   'zookeeper://127.0.0.1:2181?timeout=2')
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in GROUP_SCHEMES:
        raise exception.ConfigInvalid(
            option='[servicegroup] backend_url',
            reason='%r has no group membership; use one of %s'
                   % (scheme, ', '.join(s + '://' for s in GROUP_SCHEMES)))
    return url


def start_coordinator(backend_url, member, heart=True):
    coordinator = coordination.get_coordinator(backend_url, member)
    coordinator.start(start_heart=heart)
    return coordinator


def join_group(coordinator, group, timeout=BACKEND_TIMEOUT):
    """Join ``group`` as the coordinator's member, creating the group if
    needed; already being a member is fine."""
    try:
        coordinator.create_group(group).get(timeout=timeout)
    except coordination.GroupAlreadyExist:
        pass
    try:
        coordinator.join_group(group).get(timeout=timeout)
    except coordination.MemberAlreadyExist:
        pass


def leave_group(coordinator, group, timeout=BACKEND_TIMEOUT):
    """Leave ``group``; not being a member (or no group) is fine."""
    try:
        coordinator.leave_group(group).get(timeout=timeout)
    except (coordination.GroupNotCreated, coordination.MemberNotJoined):
        pass


def read_members(coordinator, group):
    """Member ids of ``group``; empty if the group does not exist."""
    try:
        return set(coordinator.get_members(group).get(
            timeout=BACKEND_TIMEOUT))
    except coordination.GroupNotCreated:
        return set()


def describe(exc):
    """One line for operators about a failed backend operation."""
    if isinstance(exc, coordination.OperationTimedOut) and not str(exc):
        return 'no answer in %s s' % BACKEND_TIMEOUT
    return exception.first_line(exc)


def translate_errors(method):
    """Raise LivenessBackendUnavailable for any failure of the backend, so
    that reporters need not know which driver they run with.

    Any exception counts: tooz does not translate every client library's
    errors (its redis driver re-raises redis-py's own from results).
    """
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            raise exception.LivenessBackendUnavailable(reason=describe(exc))
    return wrapper


class GroupMembers:
    """Members of each group as one process last read them.

    Every reporter checks its membership before each report; in a process
    that simulates a fleet, reading the whole group once per reporter would
    cost the backend O(fleet^2) per interval. Reporters share one read per
    group for ``max_age`` seconds instead.
    """

    def __init__(self, max_age):
        self.max_age = max_age
        self._lock = threading.Lock()
        self._read = {}

    def get(self, group, coordinator):
        with self._lock:
            read_at, members = self._read.get(group, (None, None))
            if read_at is not None and (
                    time.monotonic() - read_at < self.max_age):
                return members
        members = read_members(coordinator, group)
        with self._lock:
            self._read[group] = (time.monotonic(), members)
        return members

    def forget(self, group):
        with self._lock:
            self._read.pop(group, None)


class ToozMembership(base.Membership):
    """One reporter's member of its binary's group."""

    def __init__(self, backend_url, binary, host, group_members):
        self.backend_url = backend_url
        self.group = group_id(binary)
        self.member = member_id(binary, host)
        self.coordinator = None
        self.group_members = group_members

    def _coordinator(self):
        if self.coordinator is None:
            self.coordinator = start_coordinator(self.backend_url, self.member)
        return self.coordinator

    @translate_errors
    def is_member(self):
        return self.member in self.group_members.get(self.group,
                                                      self._coordinator())

    @translate_errors
    def join(self):
        join_group(self._coordinator(), self.group)
        self.group_members.forget(self.group)

    @translate_errors
    def leave(self):
        """Leave the group; also works from another process (same id)."""
        coordinator = self._coordinator()
        try:
            leave_group(coordinator, self.group)
        finally:
            coordinator.stop()
            self.coordinator = None


class BackendWatch:
    """The conductor's view of its liveness backend's health.

    The conductor's own coordinator only reads, so it runs without tooz's
    heartbeat thread. A thread of the watch reads a group through it every
    PROBE_INTERVAL s, so an outage is noticed even while nobody lists
    services; a failed group read of a listing counts too. Loss and
    recovery are logged once each. While the backend is failing, listings
    do not wait for it: ``error()`` says why it is unavailable.

    During an outage and for ``grace`` s after it, ``recovering()`` is
    true: a backend that lost its state (Redis and memcached keep nothing
    across a restart) lost every member, and each reporter needs up to one
    report interval to notice and join again. Judging the fleet down
    meanwhile would trigger evacuations of healthy hosts.
    """

    PROBE_INTERVAL = 1.0
    # Any group will do; this one is never created.
    PROBE_GROUP = b'sgconductor-probe'

    def __init__(self, coordinator, grace):
        self.coordinator = coordinator
        self.grace = grace
        self._lock = threading.Lock()
        self._healthy_since = -math.inf
        self._error = None
        self._outage = outage.Outage('the liveness backend')
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._probe, daemon=True,
                                        name='sgconductor-backend-watch')
        self._thread.start()

    def _probe(self):
        while not self._stop.wait(self.PROBE_INTERVAL):
            try:
                read_members(self.coordinator, self.PROBE_GROUP)
            except Exception as exc:
                self.failed(exc)
            else:
                self.succeeded()

    def failed(self, exc):
        error = describe(exc)
        with self._lock:
            self._healthy_since = None
            self._error = error
        self._outage.failed(error)

    def succeeded(self):
        with self._lock:
            if self._healthy_since is None:
                self._healthy_since = time.monotonic()
                self._error = None
        self._outage.succeeded()

    def error(self):
        """Why the backend is unavailable, or None while it answers."""
        with self._lock:
            return self._error

    def recovering(self):
        """True during an outage and for ``grace`` s after it."""
        with self._lock:
            since = self._healthy_since
        return since is None or time.monotonic() - since < self.grace

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.coordinator.stop()


class ToozDriver(db.DbDriver):

    # How long reporters of one process share a read of their group.
    MEMBERSHIP_MAX_AGE = 1.0

    def __init__(self, service_down_time, backend_url=None):
        super().__init__(service_down_time, check_url(backend_url))
        self._lock = threading.Lock()
        self._watch = None
        self._group_members = GroupMembers(self.MEMBERSHIP_MAX_AGE)

    def _watched(self):
        """The conductor's own coordinator and its watch, started on
        first use."""
        with self._lock:
            if self._watch is None:
                member = 'sgconductor-conductor:%s:%d' % (CONF.host,
                                                          os.getpid())
                coordinator = start_coordinator(
                    self.backend_url, member.encode(), heart=False)
                self._watch = BackendWatch(coordinator, self._grace())
            return self._watch

    def _grace(self):
        """Seconds a reporter may take to become a member again (after an
        outage) or at all (after registering): it notices that it is not
        one at its next report (its group read may be MEMBERSHIP_MAX_AGE
        old) and joins; one more report interval, for a join that failed
        too."""
        return 2 * CONF.report_interval + self.MEMBERSHIP_MAX_AGE

    def start(self):
        """Watch the backend from now on, not only from the first listing
        (conductor side)."""
        self._watched()

    def stop(self):
        with self._lock:
            watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()

    def check(self):
        """Connect within START_TIMEOUT s or raise ConfigInvalid.

        The connection is closed again: the conductor checks before
        cotyledon forks its workers, which must not inherit it.
        """
        def connect_and_close():
            start_coordinator(self.backend_url,
                              b'sgconductor-check:%d' % os.getpid()).stop()

        outcome = []
        worker = threading.Thread(
            target=lambda: outcome.append(self._try(connect_and_close)),
            daemon=True)
        worker.start()
        worker.join(START_TIMEOUT)
        error = outcome[0] if outcome else 'no answer in %d s' % START_TIMEOUT
        if error is not None:
            raise exception.ConfigInvalid(
                option='[servicegroup] backend_url',
                reason='cannot reach the liveness backend: %s' % error)

    @staticmethod
    def _try(func):
        try:
            func()
        except Exception as exc:
            return exception.first_line(exc)

    def join(self, binary, host):
        return ToozMembership(self.backend_url, binary, host,
                              self._group_members)

    def remove(self, binary, host):
        try:
            ToozMembership(self.backend_url, binary, host,
                           GroupMembers(0)).leave()
        except exception.LivenessBackendUnavailable as exc:
            LOG.warning('Could not remove %(binary)s on %(host)s from the '
                        'liveness backend: %(exc)s; it leaves by itself '
                        'when it learns that it was deleted.',
                        {'binary': binary, 'host': host, 'exc': exc})

    def _members(self, binaries):
        """{binary: set of member ids, or why they cannot be read}."""
        watch = self._watched()
        members = {}
        for binary in binaries:
            error = watch.error()
            if error is None:
                try:
                    members[binary] = read_members(watch.coordinator,
                                                   group_id(binary))
                    continue
                except Exception as exc:
                    watch.failed(exc)
                    error = describe(exc)
            members[binary] = error
        return members

    def get_states(self, services, now, read_until):
        fresh = super().get_states(services, now, read_until)
        members = self._members({s.binary for s in services})
        recovering = self._watched().recovering()
        states = []
        for service, state in zip(services, fresh, strict=True):
            group = members[service.binary]
            if not state.up:
                states.append(state)
            elif isinstance(group, str):
                states.append(base.State(
                    None, 'liveness backend unavailable: %s' % group))
            elif member_id(service.binary, service.host) in group:
                states.append(base.UP)
            elif recovering:
                states.append(RECOVERING)
            elif (now - service.created_at).total_seconds() < self._grace():
                # It joins right after registering, and again at each
                # report until it is a member: a backend electing a new
                # leader makes it wait that long.
                states.append(JOINING)
            else:
                states.append(MISSING)
        return states
