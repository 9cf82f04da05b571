"""Transactions the database refused for a conflict: retried, counted,
and logged at a bounded rate.

InnoDB refuses one of two transactions that deadlock, and Galera refuses
a transaction that lost the certification of its write-set against one
committed meanwhile on another node ("Deadlock: wsrep aborted
transaction"); oslo.db reports both as DBDeadlock. Either has written
nothing, and is run again (``db/sqlalchemy/api.py``, oslo.db's
``wrap_db_retry``): no write is lost. Each one is counted here, per
process; the first is logged at once, then at most one line per
LOG_INTERVAL says how many more there were, and the counts reach
/metrics through the database (``conductor/counters.py``).
"""

import threading
import time

from oslo_db import exception as db_exc
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

# Seconds between two lines about conflicts.
LOG_INTERVAL = 60.0
# The name of the count in conductor_counters.
RETRIES = 'database_retries'


class Conflicts:

    def __init__(self):
        self._lock = threading.Lock()
        self._untaken = 0       # retries not yet written to the database
        self._unlogged = 0      # retries not yet logged
        self._logged_at = -LOG_INTERVAL

    def retried(self, exc, duplicates=False):
        """oslo.db's exception_checker: True (retry, and count it) for a
        deadlock or a certification conflict, or with ``duplicates`` for
        two inserts of one row (racing first registrations); False for
        anything else."""
        if isinstance(exc, db_exc.DBDuplicateEntry):
            return duplicates
        if not isinstance(exc, db_exc.DBDeadlock):
            return False
        now = time.monotonic()
        with self._lock:
            self._untaken += 1
            self._unlogged += 1
            due = now - self._logged_at >= LOG_INTERVAL
            if due:
                count, self._unlogged = self._unlogged, 0
                self._logged_at = now
        if due:
            LOG.warning('Retried %(count)d transaction(s) the database '
                        'refused for a deadlock or a Galera certification '
                        'conflict (the latest: %(error)s); more are counted '
                        'in /metrics and logged at most once every %(every)d '
                        's.', {'count': count, 'every': LOG_INTERVAL,
                               'error': str(exc).splitlines()[0]})
        return True

    def take(self):
        """Retries counted since the last call (to write down)."""
        with self._lock:
            taken, self._untaken = self._untaken, 0
        return taken

    def give_back(self, count):
        """Retries ``take`` returned that could not be written down."""
        with self._lock:
            self._untaken += count


# This process's.
CONFLICTS = Conflicts()
