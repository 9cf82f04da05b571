# SPDX-License-Identifier: Apache-2.0
"""Transactions the database refused for a conflict: retried, counted,
and logged at a bounded rate.

InnoDB refuses one of two transactions that deadlock, and Galera refuses
a transaction that lost the certification of its write-set against one
committed meanwhile on another node ("Deadlock: wsrep aborted
transaction"); oslo.db reports both as DBDeadlock. Either has written
nothing, and is run again (``db/sqlalchemy/api.py``, oslo.db's
``wrap_db_retry``): no write is lost. Each one is counted in this
process's tally (``sgconductor/tally.py``), which logs at a bounded rate
and whose counts reach /metrics.
"""

from oslo_db import exception as db_exc
from oslo_log import log as logging

from sgconductor import tally

LOG = logging.getLogger(__name__)

# The counter's name, in conductor_counters and /metrics.
RETRIES = 'database_retries'
# Its one reason.
CONFLICT = 'conflict'

RETRIED = tally.Tally(RETRIES, LOG, 'Transactions run again after a '
                      'deadlock or a Galera certification conflict')


def retried(exc, duplicates=False):
    """oslo.db's exception_checker: True (retry, and count it) for a
    deadlock or a certification conflict, or with ``duplicates`` for two
    inserts of one row (racing first registrations); False for anything
    else."""
    if isinstance(exc, db_exc.DBDuplicateEntry):
        return duplicates
    if not isinstance(exc, db_exc.DBDeadlock):
        return False
    RETRIED.add(CONFLICT, 'Ran again a transaction the database refused '
                'for a deadlock or a Galera certification conflict: '
                '%(error)s', error=str(exc).splitlines()[0])
    return True
