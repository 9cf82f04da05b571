# SPDX-License-Identifier: Apache-2.0
"""Coalesced heartbeats against a real (SQLite) database."""

import datetime
import logging
import time
from unittest import mock

import pytest
from oslo_utils import uuidutils

from sgconductor import exception
from sgconductor.conductor import heartbeats
from sgconductor.conductor import progress
from sgconductor.db import api as db_api
from sgconductor.db.sqlalchemy import api as sa_api
from tests.inprocess import claim
from tests.inprocess import judged_as_of
from tests.inprocess import report
from tests.inprocess import statements
from tests.inprocess import verbs

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, 250000)
LATER = NOW + datetime.timedelta(seconds=5)


@pytest.fixture
def buffer(db):
    """A started buffer whose flusher never fires by itself: tests flush."""
    buffer = heartbeats.HeartbeatBuffer(db_api.get_instance(),
                                        flush_interval=3600)
    buffer.start()
    yield buffer
    buffer.stop()


def register(buffer, host, version=1):
    service, _ = buffer.dbapi.service_upsert(report(host, version=version),
                                             NOW)
    buffer.remember(service)
    return service


def rows(dbapi):
    return {s.host: s for s in dbapi.service_get_all()}


def test_alive_reports_are_counted_then_written_in_one_update(buffer):
    services = {'h%03d' % i: register(buffer, 'h%03d' % i)
                for i in range(300)}
    for _ in range(3):
        for host, service in services.items():
            assert buffer.offer(report(host), service.uuid, LATER)
    assert {s.report_count for s in rows(buffer.dbapi).values()} == {1}
    with statements(buffer.dbapi) as seen:
        buffer.flush()
    seen = verbs(seen)
    assert seen.count('UPDATE') == 1
    assert 'INSERT' not in seen and 'DELETE' not in seen
    written = rows(buffer.dbapi)
    assert {s.report_count for s in written.values()} == {4}
    # Rounded up to the second: never older than the report.
    assert {s.last_seen_up for s in written.values()} == {
        LATER.replace(microsecond=0) + datetime.timedelta(seconds=1)}


def test_updates_grow_with_chunks_not_with_services(buffer, monkeypatch):
    monkeypatch.setattr(sa_api, 'CHUNK', 100)
    services = [register(buffer, 'h%03d' % i) for i in range(250)]
    for service in services:
        buffer.offer(report(service.host), service.uuid, LATER)
    with statements(buffer.dbapi) as seen:
        buffer.flush()
    assert verbs(seen).count('UPDATE') == 3


@pytest.mark.parametrize('change', [
    {'version': 2}, {'topic': 'elsewhere'}, {'availability_zone': 'az2'}])
def test_reports_that_change_anything_are_not_coalesced(buffer, change):
    service = register(buffer, 'h1')
    assert not buffer.offer(dict(report('h1'), **change), service.uuid, NOW)


def test_reports_without_the_known_uuid_are_not_coalesced(buffer):
    service = register(buffer, 'h1')
    assert not buffer.offer(report('h1'), None, NOW)
    assert not buffer.offer(report('h1'), uuidutils.generate_uuid(), NOW)
    assert not buffer.offer(report('unknown-host'), service.uuid, NOW)


def test_nothing_is_coalesced_until_the_flusher_runs(db):
    buffer = heartbeats.HeartbeatBuffer(db_api.get_instance(), 1)
    service, _ = db.service_upsert(report('h1'), NOW)
    buffer.remember(service)
    assert not buffer.offer(report('h1'), service.uuid, NOW)


def test_a_service_deleted_meanwhile_stays_deleted_and_is_forgotten(buffer):
    doomed = register(buffer, 'doomed')
    kept = register(buffer, 'kept')
    for service in (doomed, kept):
        assert buffer.offer(report(service.host), service.uuid, LATER)
    # Deleted through another conductor: this one's buffer does not know.
    buffer.dbapi.service_destroy(
        {'host': 'doomed', 'binary': 'nova-compute'}, NOW)
    buffer.flush()
    assert set(rows(buffer.dbapi)) == {'kept'}
    assert rows(buffer.dbapi)['kept'].report_count == 2
    # Its next report goes to the database, which says it was deleted.
    assert not buffer.offer(report('doomed'), doomed.uuid, LATER)
    assert buffer.offer(report('kept'), kept.uuid, LATER)


@pytest.fixture
def intake_buffer(db):
    """``buffer``, of an intake (progress.py)."""
    buffer = heartbeats.HeartbeatBuffer(
        db_api.get_instance(), flush_interval=3600,
        progress=progress.IntakeProgress('unit'))
    buffer.progress.wake = lambda: None   # tests flush
    buffer.start()
    yield buffer
    buffer.stop()


def test_a_failed_flush_keeps_every_heartbeat_for_the_next(intake_buffer,
                                                           caplog,
                                                           monkeypatch):
    buffer = intake_buffer
    caplog.set_level(logging.INFO, logger='sgconductor.outage')
    service = register(buffer, 'h1')
    unavailable = exception.DatabaseUnavailable(reason='gone')
    for _ in range(2):
        buffer.offer(report('h1'), service.uuid, NOW)
    claim(buffer, NOW, monkeypatch)
    with mock.patch.object(buffer.dbapi, 'service_record_heartbeats',
                           side_effect=unavailable):
        buffer.flush()
        buffer.offer(report('h1'), service.uuid, LATER)
        buffer.flush()
    buffer.flush()
    # The progress one flush later than the heartbeats, after an outage.
    assert judged_as_of(buffer.dbapi, LATER) is None
    buffer.flush()
    assert judged_as_of(buffer.dbapi, LATER) == NOW
    written = rows(buffer.dbapi)['h1']
    assert written.report_count == 4
    assert written.last_seen_up == LATER.replace(
        microsecond=0) + datetime.timedelta(seconds=1)
    assert caplog.text.count('Lost contact with the database') == 1
    assert caplog.text.count('Contact with the database') == 1


def test_stop_writes_the_last_heartbeats(db):
    buffer = heartbeats.HeartbeatBuffer(db_api.get_instance(), 3600)
    buffer.start()
    service = register(buffer, 'h1')
    buffer.offer(report('h1'), service.uuid, LATER)
    buffer.stop()
    assert rows(db)['h1'].report_count == 2


def test_last_seen_up_never_moves_back(buffer):
    service = register(buffer, 'h1')
    buffer.offer(report('h1'), service.uuid, NOW)
    # A write-through (say, a re-registration) lands later, first.
    buffer.dbapi.service_upsert(report('h1'), LATER, service.uuid)
    buffer.flush()
    written = rows(buffer.dbapi)['h1']
    assert written.last_seen_up == LATER
    assert written.report_count == 3


def test_a_flush_records_how_far_reports_were_read(intake_buffer,
                                                   monkeypatch):
    """Even with no heartbeat to write, and never backwards: in the
    intake's row as read, and as how far every report was read less a
    flush interval (another intake may not have flushed yet)."""
    buffer = intake_buffer
    assert buffer.dbapi.reports_read_until() is None
    claim(buffer, LATER, monkeypatch)
    claim(buffer, NOW, monkeypatch)
    buffer.flush()
    assert judged_as_of(buffer.dbapi, LATER) == LATER
    assert buffer.dbapi.reports_read_until() == LATER - datetime.timedelta(
        seconds=buffer.flush_interval)
    claim(buffer, NOW, monkeypatch)
    buffer.flush()
    assert judged_as_of(buffer.dbapi, LATER) == LATER


def test_nothing_to_write_does_not_pass_for_the_database_back(buffer,
                                                               caplog):
    """With no heartbeat counted, a flush probes the database instead of
    taking a write of nothing for its return."""
    caplog.set_level(logging.INFO, logger='sgconductor.outage')
    service = register(buffer, 'h1')
    buffer.offer(report('h1'), service.uuid, NOW)
    unavailable = exception.DatabaseUnavailable(reason='gone')
    with mock.patch.object(buffer.dbapi, 'service_record_heartbeats',
                           side_effect=unavailable), \
            mock.patch.object(buffer.dbapi, 'reports_read_until',
                              side_effect=unavailable):
        buffer.flush()
        assert rows(buffer.dbapi)['h1'].report_count == 1
        buffer.flush()
        buffer.flush()
    assert 'Contact with the database' not in caplog.text
    buffer.flush()
    assert rows(buffer.dbapi)['h1'].report_count == 2
    assert 'Contact with the database (heartbeat flush) recovered.' in (
        caplog.text)


def test_the_flusher_outlives_a_failing_flush(db, caplog):
    """A bug in one flush is logged; what it counted is written by the
    next."""
    buffer = heartbeats.HeartbeatBuffer(db_api.get_instance(),
                                        flush_interval=0.01)
    buffer.start()
    service = register(buffer, 'h1')
    real = buffer.dbapi.service_record_heartbeats
    failures = []

    def fails_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise RuntimeError('bug')
        return real(*args, **kwargs)

    with mock.patch.object(buffer.dbapi, 'service_record_heartbeats',
                           side_effect=fails_once):
        buffer.offer(report('h1'), service.uuid, NOW)
        for _ in range(500):
            if rows(buffer.dbapi)['h1'].report_count == 2:
                break
            time.sleep(0.01)
    assert buffer.running
    buffer.stop()
    assert failures
    assert rows(buffer.dbapi)['h1'].report_count == 2
    assert 'Heartbeat flush failed.' in caplog.text
