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

Memory is bounded: one entry per service, at most MAX_SERVICES; reports
of services beyond that are dropped (and logged), as they were before
this existed.
"""

import threading

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
        self._lock = threading.Lock()
        self._entries = {}

    def __len__(self):
        return len(self._entries)

    def holds(self, values):
        """True if a report of this service is waiting: its next ones must
        wait behind it, or they would be written out of order."""
        return _key(values) in self._entries

    def add(self, values, uuid, now):
        """Keep a report received at ``now``; False if full."""
        key = _key(values)
        entry = Deferred(values, uuid, 1, now)
        with self._lock:
            held = self._entries.get(key)
            if held is not None:
                held.absorb(entry)
            elif len(self._entries) < self.limit:
                self._entries[key] = entry
            else:
                return False
        return True

    def take(self):
        """Every waiting entry, in the order their services first waited;
        they are no longer held."""
        with self._lock:
            entries, self._entries = self._entries, {}
        return list(entries.values())

    def restore(self, entries):
        """Put back taken entries that could not be written, with what
        arrived meanwhile (later reports) folded into them."""
        with self._lock:
            later, self._entries = self._entries, {
                _key(entry.values): entry for entry in entries}
            for key, entry in later.items():
                held = self._entries.get(key)
                if held is not None:
                    held.absorb(entry)
                else:
                    self._entries[key] = entry


def _key(values):
    return values['host'], values['binary']
