# SPDX-License-Identifier: Apache-2.0
"""A conductor process's counts, written down for /metrics.

/metrics is served by sgconductor-api, which asks one conductor
(``get_service_stats``); what every process of every conductor counted
reaches it through the database: each process adds what it counted
since its last write to its own rows of ``conductor_counters`` every
WRITE_INTERVAL seconds (so no two processes ever write one row, and no
Galera node conflicts with another over it): the counts of every tally
of the process (``sgconductor/tally.py``), whose summary lines are
logged from here when due as well.
"""

from oslo_log import log as logging

from sgconductor import exception
from sgconductor import tally
from sgconductor import threads

LOG = logging.getLogger(__name__)

# Seconds between two writes of a process's counts.
WRITE_INTERVAL = 10


class CounterWriter:
    """Writes this process's counts as ``process`` of ``host``."""

    def __init__(self, dbapi, host, process):
        self.dbapi = dbapi
        self.host = host
        self.process = process
        self._writer = threads.Periodic(
            'sgconductor-counters', WRITE_INTERVAL, self.write,
            'write the counts of this process')

    def start(self):
        self._writer.start()

    def stop(self):
        """Stop, after writing what is left (lost if the database is
        away: counts, not data)."""
        if self._writer.stop():
            try:
                self.write()
            except exception.SGConductorException as exc:
                LOG.warning('Could not write the last counts of this '
                            'process: %s', exc)

    def write(self):
        """Add what was counted since the last write; kept for the next
        one if the database is away."""
        taken = {}
        for counted in tally.TALLIES:
            counted.summarise_if_due()
            taken[counted] = counted.take()
        counts = {(counted.name, reason): count
                  for counted, by_reason in taken.items()
                  for reason, count in by_reason.items()}
        if not counts:
            return
        try:
            self.dbapi.counter_add(self.host, self.process, counts)
        except Exception:
            for counted, by_reason in taken.items():
                counted.give_back(by_reason)
            raise
