# SPDX-License-Identifier: Apache-2.0
"""What one heartbeat intake claims to have written, for the judgement.

Liveness is judged as of a moment before which every report is written
(``doc/liveness.rst``). Each intake process keeps a row of its own in
``report_intakes``, written by its flusher with every flush, in the same
transaction as the heartbeats (``HeartbeatBuffer.flush``):

* ``holding``: the intake may hold heartbeats it took off the queue and
  has not written yet (it consumes, or it stopped and could not flush
  since);
* ``read_until``: every report it took before reading a mark put at that
  moment is written;
* ``seen_at``: when it last wrote the row, at least every flush while it
  holds.

Services are judged as of the oldest ``read_until`` of the holders that
wrote their row within ``dropout()`` seconds, or, if there is none, as of
the moment up to which every report was read (``report_progress``):
``dbapi.reports_judged_as_of``. So an intake that cannot write what it
took holds the judgement back, instead of another intake moving it on
past heartbeats only the first one has; and one that died, or stays cut
off from its database, drops out after ``dropout()`` s, by when it has
stopped taking heartbeats (``intake.py``) and every service has reported
again to an intake that writes.

An intake that starts consuming (at start, or after losing the broker or
its database) becomes a holder as of the moment services are judged as
of then: it does not move the judgement back or forth. For
``resume_hold()`` s after that, and after a mark it could not put, it
claims nothing more: reports that could not be sent meanwhile are gone,
not queued (a reporter cut off from the broker sends its next one only at
its next report interval), and judged as of a later moment their
services would look silent.
"""

import threading
import time

from oslo_config import cfg
from oslo_log import log as logging

from sgconductor.conductor.marks import MARK_INTERVAL

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# Seconds a flush may hang before its intake stops taking heartbeats
# (a database that does not answer at all, rather than refusing).
STUCK_AFTER = 5.0


def resume_hold():
    """Seconds an intake claims nothing after an interruption: two report
    intervals, so that a reporter whose first report after the outage is
    lost too still reports in time, and one mark interval."""
    return 2 * CONF.report_interval + MARK_INTERVAL


def dropout():
    """Seconds after its last row a holder no longer holds the judgement
    back: it may take STUCK_AFTER s to find its flush stuck (it stops
    taking heartbeats within a second of a flush failing), then every
    service reports again to another intake within a report interval, one
    more for a report lost on the way, and that intake writes it and reads
    a mark within a few seconds."""
    return STUCK_AFTER + 2 * CONF.report_interval + 3 * MARK_INTERVAL


class IntakeRow:
    """One flush's write of an intake's row (see
    ``dbapi.service_record_heartbeats``). ``id`` is None until the row is
    created; the write sets it, and, when it makes the intake a holder
    (``activate``), the ``read_until`` it inherited."""

    __slots__ = ('id', 'host', 'holding', 'activate', 'read_until',
                 'delete')

    def __init__(self, row_id, host, holding, activate, read_until,
                 delete=False):
        self.id = row_id
        self.host = host
        self.holding = holding
        self.activate = activate
        self.read_until = read_until
        self.delete = delete


class IntakeProgress:
    """An intake's row: what it asks of the next flush, and what the
    flushes wrote. Thread-safe: the intake's thread reads marks and asks
    to hold or release, the flusher writes."""

    def __init__(self, host):
        self.host = host
        self._lock = threading.Lock()
        self._id = None
        self._wanted = False     # the intake consumes, or is about to
        self._activate = False   # ... and waits to become a holder
        self._holding = False    # what the row says
        self._retired = False
        self._claim = None       # the latest mark read outside a hold
        self._hold_until = 0.0
        self._active = threading.Event()
        # Set by the buffer that writes the row: asks for a flush now.
        self.wake = lambda: None

    # --- the intake's side

    def start_holding(self):
        """The intake is about to consume: the next flush makes it a
        holder anew (the moment of the others, a hold); ``wait_holding``
        returns once it has."""
        with self._lock:
            self._wanted = self._activate = True
            self._active.clear()
        self.wake()

    def wait_holding(self, timeout):
        """True once the row says the intake holds heartbeats."""
        return self._active.wait(timeout)

    def release(self):
        """The intake stopped consuming: once the next flush has written
        what it took, the row says it holds nothing."""
        with self._lock:
            self._wanted = self._activate = False
            self._active.clear()

    def retire(self):
        """The intake stops for good: the last flush deletes its row."""
        with self._lock:
            self._wanted = False
            self._retired = True

    def suspend(self):
        """Claim nothing until ``hold`` says for how long."""
        with self._lock:
            self._hold_until = float('inf')

    def hold(self):
        """Claim nothing for resume_hold() s from now."""
        with self._lock:
            self._hold()

    def _hold(self):
        """(Caller holds the lock.)"""
        seconds = resume_hold()
        self._hold_until = time.monotonic() + seconds
        LOG.info('Liveness judgement on this intake resumes in %d s, once '
                 'every service had time to report again.', seconds)

    def read_up_to(self, moment):
        """A mark put at ``moment`` was read: claimed with the next flush,
        unless within a hold. Returns True if claimed."""
        with self._lock:
            if (time.monotonic() < self._hold_until
                    or not (self._wanted and self._holding)):
                return False
            if self._claim is None or moment > self._claim:
                self._claim = moment
            return True

    # --- the flusher's side

    def next_row(self):
        """What the next flush writes of the row, or None if nothing:
        an idle intake whose row already says so."""
        with self._lock:
            if self._retired:
                return None if self._id is None else IntakeRow(
                    self._id, self.host, False, False, None, delete=True)
            if not (self._wanted or self._holding):
                return None
            activate = self._wanted and self._activate
            return IntakeRow(self._id, self.host, self._wanted, activate,
                             None if activate else self._claim)

    def written(self, row):
        """``row`` (from next_row) was committed."""
        with self._lock:
            self._id = None if row.delete else row.id
            if row.delete:
                return
            self._holding = row.holding
            if row.activate:
                self._activate = False
                self._claim = row.read_until
                self._hold()
                self._active.set()

