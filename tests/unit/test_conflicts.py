# SPDX-License-Identifier: Apache-2.0
"""Transactions refused for a deadlock or a Galera certification
conflict: run again, counted, logged at a bounded rate (db/conflicts.py,
sgconductor/tally.py),
and written down for /metrics (conductor/counters.py)."""

import datetime

from oslo_db import exception as db_exc

from sgconductor import tally
from sgconductor.conductor import counters
from sgconductor.db import api as db_api
from sgconductor.db import conflicts
from sgconductor.db.sqlalchemy import api as sa_api
from tests.inprocess import report

# What oslo.db makes of Galera's certification failure.
WSREP = db_exc.DBDeadlock(Exception(
    '(1213, \'Deadlock: wsrep aborted transaction\')'))


def test_a_conflict_is_run_again_and_writes_once(db, monkeypatch):
    """The first attempt lost certification (it wrote nothing); the
    second one writes."""
    db.service_upsert(report('cn1'), datetime.datetime(2026, 12, 7))
    real = sa_api._get_live_for_update
    failures = []

    def conflicting(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise WSREP
        return real(*args, **kwargs)
    monkeypatch.setattr(sa_api, '_get_live_for_update', conflicting)
    db.service_update({'host': 'cn1', 'binary': 'nova-compute'},
                      {'disabled': True})
    assert failures
    assert db.service_get_all()[0].disabled
    assert conflicts.RETRIED.take() == {conflicts.CONFLICT: 1}


def test_only_conflicts_are_retried():
    assert conflicts.retried(WSREP)
    assert not conflicts.retried(db_exc.DBDuplicateEntry())
    assert conflicts.retried(db_exc.DBDuplicateEntry(), duplicates=True)
    assert not conflicts.retried(db_exc.DBConnectionError())
    assert not conflicts.retried(ValueError())
    assert conflicts.RETRIED.take() == {conflicts.CONFLICT: 1}
    assert conflicts.RETRIED.take() == {}


def test_logged_in_full_once_then_summed_up(monkeypatch, caplog):
    now = [1000.0]
    monkeypatch.setattr(tally.time, 'monotonic', lambda: now[0])
    for _ in range(100):
        conflicts.retried(WSREP)
    now[0] += tally.LOG_INTERVAL
    conflicts.RETRIED.summarise_if_due()
    lines = [r.getMessage() for r in caplog.records
             if r.name == conflicts.__name__]
    assert len(lines) == 2, lines
    assert 'wsrep aborted transaction' in lines[0]
    assert lines[1].endswith('not logged one by one: 99 conflict.')


def test_counts_reach_the_database_by_host(db):
    dbapi = db_api.get_instance()
    for host, process, count in (('ctl1', 'intake-0', 3),
                                 ('ctl1', 'worker-0', 2),
                                 ('ctl2', 'intake-0', 1)):
        for _ in range(count):
            conflicts.retried(WSREP)
        counters.CounterWriter(dbapi, host, process).write()
    conflicts.retried(WSREP)
    counters.CounterWriter(dbapi, 'ctl1', 'intake-0').write()
    assert dbapi.counter_totals() == {conflicts.RETRIES: {
        'ctl1': {conflicts.CONFLICT: 6}, 'ctl2': {conflicts.CONFLICT: 1}}}
    assert conflicts.RETRIED.take() == {}
