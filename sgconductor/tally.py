# SPDX-License-Identifier: Apache-2.0
"""Events a flood can repeat, counted by reason and logged at a bounded
rate.

A broker queue anyone with credentials can write to, or a database
refusing transactions by the thousand, must not flood the log. A tally
logs the first event of each reason in full (one line, no traceback),
then counts the others: at most once every LOG_INTERVAL seconds, one
line says how many of each reason there were since. A reason is logged
in full again once it has not been for LOG_INTERVAL. Reasons are a small
fixed set (the callers' slugs, or exception class names), so the lines
an interval can hold are bounded.

Every tally of the process is listed in TALLIES; a conductor process
writes their counts to the database (``conductor/counters.py``), and
/metrics shows them by conductor host and reason.
"""

import collections
import threading
import time

# Seconds between two summary lines of a tally, and before a reason is
# logged in full again.
LOG_INTERVAL = 60.0

# Every tally of this process, to write down (conductor/counters.py).
TALLIES = []


class Tally:
    """Counts of ``name`` (the counter's name in /metrics) by reason,
    logged on ``logger`` at warning level."""

    def __init__(self, name, logger, summary):
        """``summary``: what the summary line starts with, for example
        'Messages dropped'."""
        self.name = name
        self._log = logger
        self._summary = summary
        self._lock = threading.Lock()
        self._untaken = collections.Counter()   # not yet written down
        self._unlogged = collections.Counter()  # not yet in a summary
        self._logged_in_full = {}               # reason -> monotonic
        # When the first event not logged in full since the last summary
        # came (None: none did).
        self._unlogged_since = None
        TALLIES.append(self)

    def add(self, reason, message, **args):
        """Count one event of ``reason``; log it in full (``message %
        args``) if it is the first of its reason for LOG_INTERVAL."""
        now = time.monotonic()
        with self._lock:
            self._untaken[reason] += 1
            in_full = (now - self._logged_in_full.get(reason, -LOG_INTERVAL)
                       >= LOG_INTERVAL)
            if in_full:
                self._logged_in_full[reason] = now
            else:
                self._unlogged[reason] += 1
                if self._unlogged_since is None:
                    self._unlogged_since = now
        if in_full:
            self._log.warning('%s (more like it are counted, and logged at '
                              'most once every %d s).', message % args,
                              LOG_INTERVAL)
        self.summarise_if_due(now)

    def summarise_if_due(self, now=None):
        """Log how many events of each reason were not logged in full,
        once LOG_INTERVAL has passed since the first of them (so, since
        the last summary). Called on every event, and now and then by the
        process (a flood that stopped is summed up too)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            since = self._unlogged_since
            if since is None or now - since < LOG_INTERVAL:
                return
            unlogged, self._unlogged = self._unlogged, collections.Counter()
            self._unlogged_since = None
        self._log.warning('%(summary)s in the last %(seconds).0f s, not '
                          'logged one by one: %(counts)s.',
                          {'summary': self._summary,
                           'seconds': now - since,
                           'counts': ', '.join(
                               '%d %s' % (count, reason) for reason, count
                               in sorted(unlogged.items()))})

    def take(self):
        """{reason: count} counted since the last take (to write down)."""
        with self._lock:
            taken, self._untaken = self._untaken, collections.Counter()
        return taken

    def give_back(self, counts):
        """Counts ``take`` returned that could not be written down."""
        with self._lock:
            self._untaken.update(counts)
