# SPDX-License-Identifier: Apache-2.0
"""Coalesced heartbeats: the latest report per service, written in batches.

A heartbeat that changes nothing but the time costs one database
transaction per report in Nova's design (about 300 a second on MariaDB).
Here ``report_state`` of a service this process already knows, with the
same fields and uuid, is only counted in memory; a flusher thread writes
what it counted every ``[conductor] flush_interval`` seconds with
``service_record_heartbeats``: a bounded number of statements per flush,
whatever the number of services.

Anything that changes state (a new service, a new version, topic or zone,
a report without the service's uuid) is not offered here and goes to the
database at once. A conductor that dies loses at most one flush interval
of heartbeats, never a registration or a version change (unless the
database is away: see ``deferred.py``). When a flush
fails, its heartbeats are kept (one entry per service, so memory stays
bounded) and written by a later flush.
"""

import collections
import datetime
import math
import threading
import time

from oslo_log import log as logging
from oslo_utils import timeutils

from sgconductor import exception
from sgconductor import outage
from sgconductor import threads
from sgconductor.conductor import progress as progress_lib

# Seconds between two writes of report_progress by one intake.
LEGACY_PROGRESS_INTERVAL = 10

# What a coalesced report must repeat exactly; host and binary are the key.
_Known = collections.namedtuple('_Known', ['id', 'uuid', 'fields'])
FIELDS = ('topic', 'version', 'availability_zone')

LOG = logging.getLogger(__name__)


def _fields(values):
    """FIELDS of a report's values."""
    return tuple(values.get(name) for name in FIELDS)


def _stored_fields(service):
    """FIELDS of a stored service (a model or a row)."""
    return tuple(getattr(service, name) for name in FIELDS)


def _to_the_second(when):
    """Rounded up to the second (MySQL stores seconds), so that reports
    within one second share one UPDATE. Up, not down: a heartbeat must
    never look older than it is, or a tight service_down_time would judge
    a live service down."""
    second = when.replace(microsecond=0)
    return second if second == when else second + datetime.timedelta(
        seconds=1)


class HeartbeatBuffer:
    """Heartbeats counted since the last flush, per service id."""

    def __init__(self, dbapi, flush_interval, before_flush=None,
                 progress=None):
        """``before_flush()`` runs first in every flush; if it raises
        SGConductorException (the database is away), the flush is skipped
        and everything kept for the next one. ``progress``: the
        ``progress.IntakeProgress`` of the intake whose heartbeats these
        are, written with every flush (None: not an intake's)."""
        self.dbapi = dbapi
        self.flush_interval = flush_interval
        self.progress = progress
        self._before_flush = before_flush or (lambda: None)
        self._lock = threading.Lock()
        self._known = {}    # (host, binary) -> _Known
        self._pending = {}  # service id -> [count, latest]
        self._database = outage.Outage('the database (heartbeat flush)')
        self._flush_lock = threading.Lock()
        # time.monotonic() when report_progress was last written.
        self._legacy_written_at = -math.inf
        # time.monotonic() when the flush under way began (None: none).
        self._flushing_since = None
        # Set to flush before the interval is over (and by stop()).
        self._wake = threading.Event()
        if progress is not None:
            progress.wake = self._wake.set
        self._flusher = threads.Loop('sgconductor-heartbeat-flush',
                                     self._run, wake=self._wake)

    @property
    def running(self):
        """True while the flusher runs: what is kept will be written."""
        return self._flusher.running

    def unwritable(self):
        """Why the database cannot be written now (the last flush failed,
        or the one under way has hung for progress.STUCK_AFTER s), or None
        if it can. The flusher reaches the database every flush_interval,
        so this holds for the whole process, heartbeats or not."""
        if self._database.lost:
            return self._database.error
        since = self._flushing_since
        if since is not None:
            hung = time.monotonic() - since
            if hung >= progress_lib.STUCK_AFTER:
                return 'a write has not finished for %d s' % hung
        return None

    def writable(self):
        return self.unwritable() is None

    def start(self):
        self._flusher.start()

    def stop(self):
        """Stop the flusher after one last flush."""
        if self._flusher.stop():
            self.flush()

    # --- what the RPC endpoint calls

    def remember(self, service):
        """``service`` was just written through: coalesce its next
        reports (only while the flusher runs)."""
        if not self._flusher.running:
            return
        with self._lock:
            self._known[(service.host, service.binary)] = _Known(
                service.id, service.uuid, _stored_fields(service))

    def forget(self, host, binary):
        with self._lock:
            self._known.pop((host, binary), None)

    def offer(self, values, uuid, now):
        """Count a report if it only says "alive"; True if counted, False
        if it must be written through."""
        with self._lock:
            known = self._known.get((values['host'], values['binary']))
            if (known is None or uuid is None or uuid != known.uuid
                    or _fields(values) != known.fields):
                return False
            self._add(known.id, 1, now)
            return True

    def count(self, service_id, count, latest):
        """Add ``count`` reports of a service, the latest at ``latest``
        (``count`` may be 0: only moves its last report forward)."""
        with self._lock:
            self._add(service_id, count, latest)

    def _add(self, service_id, count, latest):
        """Count heartbeats of one service (caller holds the lock)."""
        beat = self._pending.setdefault(service_id, [0, latest])
        beat[0] += count
        beat[1] = max(beat[1], latest)

    # --- the flusher

    def _run(self):
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._flusher.stopping.is_set():
                return
            try:
                self.flush()
            except Exception:
                # A bug, not the database away: what was counted is kept
                # (see flush), and the next flush comes on time.
                LOG.exception('Heartbeat flush failed.')

    def flush(self):
        """Write what was counted; keep it for the next flush on failure.
        One flush at a time (the flusher's, or a caller's)."""
        with self._flush_lock:
            self._flushing_since = time.monotonic()
            try:
                self._flush()
            finally:
                self._flushing_since = None

    def _flush(self):
        try:
            self._before_flush()
        except exception.SGConductorException as exc:
            self._database.failed(exc)
            return
        # The claim before the heartbeats: whatever the intake took before
        # the marks it claims is in the batch taken after.
        row = self.progress.next_row() if self.progress else None
        with self._lock:
            batch, self._pending = self._pending, {}
        if row is not None and self._database.lost:
            # Back after an outage: the other processes' buffers kept
            # heartbeats through it too (a conductor's own reports, those
            # sent to its RPC topic), and write them at their next flush.
            # The intake's progress waits one flush more, or their services
            # would be judged as of a moment their heartbeats are not yet
            # written for.
            row.read_until = None
        if not batch and row is None:
            self._probe()
            return
        read_until = self._legacy_progress(row)
        heartbeats = {service_id: (count, _to_the_second(latest))
                      for service_id, (count, latest) in batch.items()}
        try:
            gone = self.dbapi.service_record_heartbeats(
                heartbeats, read_until, intake=row,
                now=timeutils.utcnow(), dropout=progress_lib.dropout())
        except exception.SGConductorException as exc:
            self._database.failed(exc)
            self._keep(batch)
            return
        except Exception:
            self._keep(batch)
            raise
        self._database.succeeded()
        if read_until is not None:
            self._legacy_written_at = time.monotonic()
        if row is not None:
            self.progress.written(row)
        if gone:
            self._forget_ids(gone)

    def _legacy_progress(self, row):
        """What this flush writes to report_progress, or None: how far
        every report was read, for conductors of earlier releases, which
        judge as of it (and for a deployment with no intake row). Every
        report was read up to the intake's claim, but another intake may
        still hold, unflushed, heartbeats it took just before that mark:
        less a flush interval. At most every LEGACY_PROGRESS_INTERVAL s:
        every intake writes that one row, and intakes writing through
        several Galera nodes would refuse each other's flushes over it
        (doc/ha.rst)."""
        if (row is None or row.read_until is None
                or time.monotonic() - self._legacy_written_at
                < LEGACY_PROGRESS_INTERVAL):
            return None
        return row.read_until - datetime.timedelta(
            seconds=self.flush_interval)

    def _probe(self):
        """Find out whether the database is (still) there when there is
        nothing to write (a write of nothing would not reach it)."""
        try:
            self.dbapi.reports_read_until()
        except exception.SGConductorException as exc:
            self._database.failed(exc)
            return
        self._database.succeeded()

    def _keep(self, batch):
        with self._lock:
            for service_id, (count, latest) in batch.items():
                self._add(service_id, count, latest)

    def _forget_ids(self, ids):
        """Deleted meanwhile (by another conductor): their next report is
        written through, and so learns what happened."""
        with self._lock:
            for key, known in list(self._known.items()):
                if known.id in ids:
                    del self._known[key]
