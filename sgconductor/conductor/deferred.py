# SPDX-License-Identifier: Apache-2.0
"""Reports kept while the database is away, written once it is back.

A report that must be written through (a service this process does not
know yet, a new version, topic or zone) cannot be while the database is
unreachable. Dropped, it would be lost for good, and after the outage the
service would look silent for all of it while the intake's progress
(``read_until``) moved on: called down although it reported throughout.
So the latest report of each such service is kept here, with how many
arrived and when the latest did, and written by the first flush that
reaches the database again, before the heartbeats and the intake's
progress (``HeartbeatBuffer.flush``).

Order matters: a later report of a service must never be overwritten by
an earlier one. So an entry stays "held" from the moment it waits until
its write has committed (``take`` ... ``finish``): later reports of that
service wait behind it, and a registration written by the same process
takes it over (``supersede``), after any write of it that is under way.
Another process (a call worker registering a service whose reports the
intake kept) is not ordered with it: its registration's fields may be
overwritten by the kept report's until the service's next report.

Memory is bounded: one entry per service, at most MAX_SERVICES (waiting
or being written); reports of services beyond that are dropped and
counted (``dropped``).
"""

import threading

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

# Services whose reports can wait at once: far more than any fleet
# measured (doc/scale.rst), a few hundred bytes each.
MAX_SERVICES = 100_000


class Deferred:
    """The latest report of one service, and how many it stands for."""

    __slots__ = ('values', 'uuid', 'count', 'latest')

    def __init__(self, values, uuid, count, latest):
        self.values = values
        self.uuid = uuid
        self.count = count
        self.latest = latest

    def absorb(self, later):
        """Fold a later entry of the same service into this one."""
        self.values, self.uuid = later.values, later.uuid
        self.count += later.count
        self.latest = max(self.latest, later.latest)


class DeferredReports:
    """Reports waiting for the database, one entry per (host, binary)."""

    def __init__(self, limit=MAX_SERVICES):
        self.limit = limit
        # Reports refused since the last take_dropped(): more services
        # than the limit waited.
        self.dropped = 0
        self._changed = threading.Condition()
        self._waiting = {}
        self._writing = {}
        # Services both waiting and being written (counted once in
        # _held): kept by _keep, recounted by _put_back.
        self._both = 0

    def __len__(self):
        """Services held."""
        with self._changed:
            return self._held()

    def holds(self, values):
        """True if a report of this service waits or is being written:
        its next ones must wait behind it."""
        key = service_key(values)
        with self._changed:
            return key in self._waiting or key in self._writing

    def add(self, values, uuid, now):
        """Keep a report received at ``now``; False (and counted in
        ``dropped``, the first one logged) if full."""
        key = service_key(values)
        entry = Deferred(values, uuid, 1, now)
        with self._changed:
            kept = self._keep(key, entry)
            if not kept:
                self.dropped += 1
                first = self.dropped == 1
        if not kept and first:
            LOG.warning('More than %d services wait for the database: '
                        'reports of others are dropped until it is back '
                        '(counted then).', self.limit)
        return kept

    def _keep(self, key, entry):
        """Keep ``entry``; False if full (caller holds the lock)."""
        held = self._waiting.get(key)
        if held is not None:
            held.absorb(entry)
        elif key in self._writing:
            self._waiting[key] = entry
            self._both += 1
        elif self._held() >= self.limit:
            return False
        else:
            self._waiting[key] = entry
        return True

    def take(self):
        """Every waiting entry, in the order their services first waited,
        to be written; they stay held until ``finish``."""
        with self._changed:
            taken, self._waiting = self._waiting, {}
            self._writing.update(taken)
        return list(taken.values())

    def finish(self, unwritten=()):
        """The taken entries are written, except ``unwritten``, which
        wait again, ahead of (and with) what arrived meanwhile."""
        with self._changed:
            self._writing = {}
            self._put_back(unwritten)
            self._changed.notify_all()

    def supersede(self, services):
        """Take over the entries of ``services`` (report values) for a
        registration about to be written, once any write of them under
        way has finished. Give back those it could not write with
        ``put_back``."""
        keys = {service_key(values) for values in services}
        with self._changed:
            self._changed.wait_for(lambda: keys.isdisjoint(self._writing))
            return [self._waiting.pop(key) for key in keys
                    if key in self._waiting]

    def put_back(self, entries):
        """Superseded entries whose registration could not be written."""
        if entries:
            with self._changed:
                self._put_back(entries)

    def take_dropped(self):
        """Reports dropped since the last call."""
        with self._changed:
            dropped, self.dropped = self.dropped, 0
        return dropped

    def _put_back(self, entries):
        later, self._waiting = self._waiting, {
            service_key(entry.values): entry for entry in entries}
        for key, entry in later.items():
            held = self._waiting.get(key)
            if held is not None:
                held.absorb(entry)
            else:
                self._waiting[key] = entry
        # Entries put back may be of services being written again since
        # they were taken over.
        self._both = sum(key in self._writing for key in self._waiting)

    def _held(self):
        """Services held (caller holds the lock)."""
        return len(self._waiting) + len(self._writing) - self._both


def service_key(values):
    """What identifies a service in a report: (host, binary)."""
    return values['host'], values['binary']
