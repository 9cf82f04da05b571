# SPDX-License-Identifier: Apache-2.0
"""Reports kept while the database is away (deferred.py), written by the
first flush that reaches it again, before the intake's progress."""

import datetime
import logging
import threading
from unittest import mock

import pytest

from sgconductor import exception
from sgconductor.conductor import deferred
from sgconductor.conductor import progress
from sgconductor.conductor import reports as reports_lib
from sgconductor.db import api as db_api
from tests.inprocess import claim
from tests.inprocess import judged_as_of
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
    """A started intake's writer whose flusher never fires by itself:
    tests flush."""
    writer = reports_lib.ReportWriter(
        db_api.get_instance(), progress=progress.IntakeProgress('unit'))
    writer.heartbeats.flush_interval = 3600
    writer.heartbeats.progress.wake = lambda: None   # tests flush
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
    claim(writer.heartbeats, NOW, monkeypatch)
    writer.heartbeats.flush()
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
    claim(writer.heartbeats, at(3), monkeypatch)
    writer.heartbeats.flush()
    assert refused == 0
    assert 'Lost contact with the database (reports written through)' in (
        caplog.text)
    assert len(writer.deferred) == 2
    database.away = False
    assert judged_as_of(dbapi, at(3)) == NOW

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
    assert judged_as_of(dbapi, at(3)) == NOW
    writer.heartbeats.flush()
    assert judged_as_of(dbapi, at(3)) == at(3)
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
    claim(writer.heartbeats, NOW, monkeypatch)
    database = Away(writer.dbapi, monkeypatch)
    database.away = True
    take(writer, at(1), monkeypatch, report('new'))
    claim(writer.heartbeats, at(1), monkeypatch)
    writer.heartbeats.flush()
    writer.heartbeats.flush()
    assert len(writer.deferred) == 1
    database.away = False
    assert judged_as_of(writer.dbapi, at(1)) is None
    writer.heartbeats.flush()
    assert rows(writer)['new'].last_seen_up == at(1)
    assert judged_as_of(writer.dbapi, at(1)) is None
    writer.heartbeats.flush()
    assert judged_as_of(writer.dbapi, at(1)) == at(1)


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
    # Entries being written count too: put back, they stay within it.
    assert not kept.add(report('cn3'), None, at(101))
    kept.finish(entries)
    assert len(kept) == 2
    assert kept.take_dropped() == 2
    assert kept.take_dropped() == 0


def test_a_report_given_back_while_its_service_is_written_counts_once():
    kept = deferred.DeferredReports(limit=2)
    kept.add(report('cn1'), None, at(1))
    superseded = kept.supersede([report('cn1')])
    # Its registration is being written; a later report of it waits and
    # is taken by a flush; then the registration fails and gives back.
    kept.add(report('cn1'), None, at(2))
    taken = kept.take()
    kept.put_back(superseded)
    assert len(kept) == 1
    assert kept.add(report('cn2'), None, at(3))
    kept.finish(taken)
    assert len(kept) == 2


def test_unwritten_entries_absorb_what_arrived_meanwhile():
    kept = deferred.DeferredReports()
    kept.add(report('cn1', version=1), None, at(1))
    taken = kept.take()
    kept.add(report('cn1', version=2), 'uuid-2', at(2))
    kept.add(report('cn2'), None, at(2))
    kept.finish(taken)
    entries = {e.values['host']: e for e in kept.take()}
    assert (entries['cn1'].values['version'], entries['cn1'].uuid,
            entries['cn1'].count, entries['cn1'].latest) == (
        2, 'uuid-2', 2, at(2))
    assert entries['cn2'].count == 1


def test_a_service_is_held_until_its_write_has_finished():
    kept = deferred.DeferredReports()
    kept.add(report('cn1'), None, at(1))
    kept.take()
    assert kept.holds(report('cn1'))
    kept.finish()
    assert not kept.holds(report('cn1'))
    assert not kept


def test_a_registration_waits_for_the_write_of_its_service():
    """Taken over while being written, the older report could land after
    the registration and move its version back."""
    kept = deferred.DeferredReports()
    kept.add(report('cn1'), None, at(1))
    writing = kept.take()
    kept.add(report('cn1', version=2), None, at(2))
    superseded = []
    registration = threading.Thread(target=lambda: superseded.extend(
        kept.supersede([report('cn1')])))
    registration.start()
    registration.join(0.2)
    assert registration.is_alive()
    # Another service's registration does not wait.
    assert kept.supersede([report('cn2')]) == []
    kept.finish()
    registration.join()
    assert [(e.values['version'], e.latest) for e in superseded] == [
        (2, at(2))]
    assert not kept
    assert writing[0].values['version'] == 1


def test_a_registration_takes_over_the_report_waiting_for_its_service(
        writer, monkeypatch):
    """The database is back, the flush has not run yet, and the service
    registers again (restarted, upgraded): the flush must not write its
    older report over the registration."""
    database = Away(writer.dbapi, monkeypatch)
    database.away = True
    take(writer, at(1), monkeypatch, report('cn1', version=2))
    database.away = False
    monkeypatch.setattr(reports_lib.timeutils, 'utcnow', lambda: at(2))
    writer.write(report('cn1', version=3), None)
    assert not writer.deferred
    writer.heartbeats.flush()
    service = rows(writer)['cn1']
    assert (service.version, service.report_count, service.last_seen_up) == (
        3, 2, at(2))


def test_a_registration_the_database_refuses_gives_the_report_back(
        writer, monkeypatch):
    database = Away(writer.dbapi, monkeypatch)
    database.away = True
    take(writer, at(1), monkeypatch, report('cn1', version=2))
    with pytest.raises(exception.DatabaseUnavailable):
        writer.write(report('cn1', version=3), None)
    assert writer.deferred.holds(report('cn1'))
    database.away = False
    writer.heartbeats.flush()
    assert rows(writer)['cn1'].version == 2


def test_a_failed_write_of_kept_reports_loses_none_of_them(
        writer, monkeypatch):
    """Whatever goes wrong while they are written (here a bug), every kept
    report waits again for the next flush."""
    database = Away(writer.dbapi, monkeypatch)
    database.away = True
    take(writer, at(1), monkeypatch, report('cn1'), report('cn2'))
    database.away = False
    real = writer.dbapi.service_upsert_many
    monkeypatch.setattr(writer.dbapi, 'service_upsert_many',
                        mock.Mock(side_effect=RuntimeError('bug')))
    with pytest.raises(RuntimeError):
        writer.heartbeats.flush()
    assert len(writer.deferred) == 2
    monkeypatch.setattr(writer.dbapi, 'service_upsert_many', real)
    writer.heartbeats.flush()
    assert set(rows(writer)) == {'cn1', 'cn2'}


def test_a_full_store_logs_once_and_counts_what_it_dropped(
        writer, monkeypatch, caplog):
    writer.deferred.limit = 1
    database = Away(writer.dbapi, monkeypatch)
    database.away = True
    refused = sum(take(writer, at(1), monkeypatch, report('cn%d' % i))
                  for i in range(5))
    assert refused == 4
    assert caplog.text.count('More than 1 services wait for the database') \
        == 1
    database.away = False
    writer.heartbeats.flush()
    assert '4 reports were dropped while the database was away' in (
        caplog.text)
