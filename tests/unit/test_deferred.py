"""Reports kept while the database is away (deferred.py), written by the
first flush that reaches it again, before the intake's progress."""

import datetime
import logging

import pytest

from sgconductor import exception
from sgconductor.conductor import deferred
from sgconductor.conductor import reports as reports_lib
from sgconductor.db import api as db_api
from tests.inprocess import report

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0)


def at(seconds):
    return NOW + datetime.timedelta(seconds=seconds)


class Away:
    """The database unreachable while ``away`` is set: every call the
    writer makes raises DatabaseUnavailable, as the db API does then."""

    CALLS = ('service_upsert_many', 'service_get_by_uuids',
             'service_record_heartbeats')

    def __init__(self, dbapi, monkeypatch):
        self.away = False
        for name in self.CALLS:
            monkeypatch.setattr(dbapi, name, self._guard(getattr(dbapi,
                                                                 name)))

    def _guard(self, call):
        def guarded(*args, **kwargs):
            if self.away:
                raise exception.DatabaseUnavailable(reason='connection '
                                                    'refused')
            return call(*args, **kwargs)
        return guarded


@pytest.fixture
def writer(db):
    """A started writer whose flusher never fires by itself: tests
    flush."""
    writer = reports_lib.ReportWriter(db_api.get_instance())
    writer.heartbeats.flush_interval = 3600
    writer.start()
    yield writer
    writer.stop()


def take(writer, when, monkeypatch, *reports):
    monkeypatch.setattr(reports_lib.timeutils, 'utcnow', lambda: when)
    return writer.take(list(reports))


def rows(writer):
    return {s.host: s for s in writer.dbapi.service_get_all()}


def test_reports_wait_for_the_database_and_are_all_written(
        writer, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    dbapi = writer.dbapi
    monkeypatch.setattr(reports_lib.timeutils, 'utcnow', lambda: NOW)
    known, _ = writer.write(report('known'), None)
    changing, _ = writer.write(report('changing'), None)
    database = Away(dbapi, monkeypatch)
    database.away = True
    refused = 0
    for second in range(1, 4):
        refused += take(
            writer, at(second), monkeypatch,
            dict(report('known'), uuid=known.uuid),           # alive
            report('new'),                                    # registers
            dict(report('changing', version=second + 1),     # upgraded
                 uuid=changing.uuid))
    writer.heartbeats.read_up_to(at(3))
    writer.heartbeats.flush()
    assert refused == 0
    assert 'Lost contact with the database (reports written through)' in (
        caplog.text)
    assert len(writer.deferred) == 2
    database.away = False
    assert dbapi.reports_read_until() is None

    writer.heartbeats.flush()
    assert not writer.deferred
    written = rows(writer)
    assert {host: (s.report_count, s.version, s.last_seen_up)
            for host, s in written.items()} == {
        'known': (4, 1, at(3)),
        'changing': (4, 4, at(3)),
        'new': (3, 1, at(3))}
    assert written['new'].created_at == at(3)
    # The progress a flush after the heartbeats (see HeartbeatBuffer).
    assert dbapi.reports_read_until() is None
    writer.heartbeats.flush()
    assert dbapi.reports_read_until() == at(3)
    assert 'Wrote the reports of 2 services kept while the database was ' \
        'away.' in caplog.text
    # Coalesced from now on, as any written service.
    assert writer.heartbeats.offer(report('new'), written['new'].uuid,
                                   at(4))


def test_progress_waits_until_every_kept_report_is_written(writer,
                                                            monkeypatch):
    """While a kept report cannot be written, the intake's progress is not
    either: services would be judged as of a moment whose reports are not
    in the database."""
    database = Away(writer.dbapi, monkeypatch)
    database.away = True
    take(writer, at(1), monkeypatch, report('new'))
    writer.heartbeats.read_up_to(at(1))
    writer.heartbeats.flush()
    writer.heartbeats.flush()
    assert len(writer.deferred) == 1
    database.away = False
    assert writer.dbapi.reports_read_until() is None
    writer.heartbeats.flush()
    assert rows(writer)['new'].last_seen_up == at(1)
    writer.heartbeats.flush()
    assert writer.dbapi.reports_read_until() == at(1)


def test_reports_after_a_waiting_one_wait_behind_it(writer, monkeypatch):
    """The database is back, but the flush has not run yet: a newer
    report of a waiting service must not be written before the older
    one, which would then move it back."""
    database = Away(writer.dbapi, monkeypatch)
    database.away = True
    take(writer, at(1), monkeypatch, report('cn1', version=2))
    database.away = False
    take(writer, at(2), monkeypatch, report('cn1', version=3))
    assert 'cn1' not in rows(writer)
    writer.heartbeats.flush()
    service = rows(writer)['cn1']
    assert (service.version, service.report_count, service.last_seen_up) == (
        3, 2, at(2))


def test_without_a_flusher_reports_are_dropped_as_before(db, monkeypatch,
                                                         caplog):
    writer = reports_lib.ReportWriter(db_api.get_instance())
    Away(writer.dbapi, monkeypatch).away = True
    assert take(writer, at(1), monkeypatch, report('cn1')) == 1
    assert not writer.deferred
    assert 'Dropped report: The conductor cannot reach its database' in (
        caplog.text)


def test_memory_is_bounded_by_the_number_of_services():
    kept = deferred.DeferredReports(limit=2)
    for second in range(100):
        assert kept.add(report('cn1'), None, at(second))
        assert kept.add(report('cn2'), None, at(second))
    assert not kept.add(report('cn3'), None, at(100))
    assert len(kept) == 2
    entries = kept.take()
    assert [(e.values['host'], e.count, e.latest) for e in entries] == [
        ('cn1', 100, at(99)), ('cn2', 100, at(99))]


def test_restored_entries_absorb_what_arrived_meanwhile():
    kept = deferred.DeferredReports()
    kept.add(report('cn1', version=1), None, at(1))
    taken = kept.take()
    kept.add(report('cn1', version=2), 'uuid-2', at(2))
    kept.add(report('cn2'), None, at(2))
    kept.restore(taken)
    entries = {e.values['host']: e for e in kept.take()}
    assert (entries['cn1'].values['version'], entries['cn1'].uuid,
            entries['cn1'].count, entries['cn1'].latest) == (
        2, 'uuid-2', 2, at(2))
    assert entries['cn2'].count == 1
