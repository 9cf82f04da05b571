"""Transactions refused for a deadlock or a Galera certification
conflict: run again, counted, logged at a bounded rate (db/conflicts.py),
and written down for /metrics (conductor/counters.py)."""

import datetime

import pytest
from oslo_db import exception as db_exc

from sgconductor.conductor import counters
from sgconductor.db import api as db_api
from sgconductor.db import conflicts
from sgconductor.db.sqlalchemy import api as sa_api
from tests.inprocess import report

# What oslo.db makes of Galera's certification failure.
WSREP = db_exc.DBDeadlock(Exception(
    '(1213, \'Deadlock: wsrep aborted transaction\')'))


@pytest.fixture
def counted(monkeypatch):
    """A fresh count for this process."""
    fresh = conflicts.Conflicts()
    monkeypatch.setattr(conflicts, 'CONFLICTS', fresh)
    return fresh


def test_a_conflict_is_run_again_and_writes_once(db, counted, monkeypatch):
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
    assert counted.take() == 1


def test_only_conflicts_are_retried(counted):
    assert counted.retried(WSREP)
    assert not counted.retried(db_exc.DBDuplicateEntry())
    assert counted.retried(db_exc.DBDuplicateEntry(), duplicates=True)
    assert not counted.retried(db_exc.DBConnectionError())
    assert not counted.retried(ValueError())
    assert counted.take() == 1
    assert counted.take() == 0


def test_logged_once_then_at_most_once_an_interval(counted, monkeypatch,
                                                   caplog):
    now = [1000.0]
    monkeypatch.setattr(conflicts.time, 'monotonic', lambda: now[0])
    for _ in range(100):
        counted.retried(WSREP)
    now[0] += conflicts.LOG_INTERVAL
    counted.retried(WSREP)
    lines = [r.getMessage() for r in caplog.records
             if r.name == conflicts.__name__]
    assert len(lines) == 2, lines
    assert lines[0].startswith('Retried 1 transaction(s)')
    assert lines[1].startswith('Retried 100 transaction(s)')
    assert 'wsrep aborted transaction' in lines[1]
    assert counted.take() == 101


def test_counts_reach_the_database_by_host(db, counted):
    dbapi = db_api.get_instance()
    for host, process, count in (('ctl1', 'intake-0', 3),
                                 ('ctl1', 'worker-0', 2),
                                 ('ctl2', 'intake-0', 1)):
        for _ in range(count):
            counted.retried(WSREP)
        counters.CounterWriter(dbapi, host, process).write()
    counted.retried(WSREP)
    counters.CounterWriter(dbapi, 'ctl1', 'intake-0').write()
    assert dbapi.counter_totals(conflicts.RETRIES) == {'ctl1': 6, 'ctl2': 1}
    assert counted.take() == 0
