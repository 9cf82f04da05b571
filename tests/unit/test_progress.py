# SPDX-License-Identifier: Apache-2.0
"""Each intake's progress, and the moment services are judged as of
(progress.py, reports_judged_as_of), on a real (SQLite) database."""

import datetime
import logging
from unittest import mock

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from sgconductor import exception
from sgconductor.conductor import heartbeats
from sgconductor.conductor import marks
from sgconductor.conductor import progress
from sgconductor.db import api as db_api
from sgconductor.db.sqlalchemy import models
from sgconductor.servicegroup import api as servicegroup_api
from tests.inprocess import judged_as_of
from tests.inprocess import report

CONF = cfg.CONF
T0 = datetime.datetime(2026, 12, 7, 12, 0, 0)


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


class Clock:
    """The conductor's clock (timeutils.utcnow) where the flushes read
    it."""

    def __init__(self, monkeypatch):
        self.now = T0
        monkeypatch.setattr(heartbeats.timeutils, 'utcnow',
                            lambda: self.now)

    def set(self, seconds):
        self.now = at(seconds)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def no_hold(monkeypatch):
    monkeypatch.setattr(progress, 'resume_hold', lambda: 0)


class Intake:
    """An intake's buffer and progress, flushed by the test."""

    def __init__(self, name):
        self.progress = progress.IntakeProgress(name)
        self.buffer = heartbeats.HeartbeatBuffer(
            db_api.get_instance(), flush_interval=3600,
            progress=self.progress)
        # The test flushes, at the moments of its clock: the flusher never
        # does by itself (its interval is an hour), nor when woken.
        self.progress.wake = lambda: None
        self.buffer.start()

    def hold_reports(self):
        """Start consuming: a holder once the next flush says so."""
        self.progress.start_holding()
        self.buffer.flush()
        assert self.progress.wait_holding(0)

    def read_mark(self, seconds):
        return self.progress.read_up_to(at(seconds))

    def take(self, service, seconds):
        assert self.buffer.offer(report(service.host), service.uuid,
                                 at(seconds))

    def stop(self):
        self.progress.retire()
        self.buffer.stop()


@pytest.fixture
def intakes(db, clock, no_hold):
    made = {name: Intake(name) for name in ('a', 'b')}
    yield made
    for intake in made.values():
        intake.stop()


def rows(dbapi):
    intakes = models.ReportIntake.__table__
    with dbapi.get_engine().connect() as connection:
        return connection.execute(sa.select(
            intakes.c.host, intakes.c.holding, intakes.c.read_until)
            .order_by(intakes.c.host)).all()


def test_the_hold_covers_two_report_intervals(conf):
    conf.config(report_interval=7)
    assert progress.resume_hold() == 2 * 7 + marks.MARK_INTERVAL


def test_an_intake_drops_out_once_it_can_have_stopped_and_been_replaced(
        conf):
    """The dropout covers finding a flush stuck, a report interval for
    every service to report elsewhere, one more for a report lost on the
    way, and a few seconds for that intake to write and claim it."""
    conf.config(report_interval=10)
    assert progress.dropout() == progress.STUCK_AFTER + 2 * 10 + 3


def test_without_progress_services_are_judged_as_of_now(db):
    assert judged_as_of(db_api.get_instance(), T0) is None
    assert servicegroup_api.judged_as_of(None, T0) == T0


def test_the_oldest_holder_sets_the_moment(intakes, clock):
    a, b = intakes['a'], intakes['b']
    a.hold_reports()
    b.hold_reports()
    clock.set(10)
    assert a.read_mark(8) and b.read_mark(5)
    a.buffer.flush()
    b.buffer.flush()
    dbapi = a.buffer.dbapi
    assert judged_as_of(dbapi, at(10)) == at(5)
    # Never backwards, and only holders count.
    assert b.read_mark(3)
    b.buffer.flush()
    assert judged_as_of(dbapi, at(10)) == at(5)
    b.progress.release()
    b.buffer.flush()
    assert judged_as_of(dbapi, at(10)) == at(8)
    assert [tuple(row)[:2] for row in rows(dbapi)] == [('a', True),
                                                        ('b', False)]


def test_an_intake_cut_off_from_its_database_holds_the_judgement_back(
        intakes, clock, conf):
    """The case of a conductor whose database node died: the other
    intake reads on, but a service whose last heartbeat only the cut-off
    intake holds is unknown, never down; once the cut-off intake cannot
    hold anything any more (it stopped consuming long enough ago for
    every service to have reported elsewhere), it drops out."""
    a, b = intakes['a'], intakes['b']
    dbapi = a.buffer.dbapi
    # A deployment that has run for a while: reports were read up to 0 s.
    dbapi.service_record_heartbeats({}, at(0))
    service, _ = dbapi.service_upsert(report('cn1'), at(0))
    a.buffer.remember(service)
    a.hold_reports()
    b.hold_reports()
    clock.set(1)
    a.take(service, 1)
    unavailable = exception.DatabaseUnavailable(reason='gone')
    with mock.patch.object(a.buffer, 'dbapi', mock.Mock(
            service_record_heartbeats=mock.Mock(side_effect=unavailable))):
        a.buffer.flush()
        assert not a.buffer.writable()
        # B reads on, for less than the dropout since A last wrote.
        last = int(progress.dropout()) - 1
        for second in range(2, last + 1):
            clock.set(second)
            b.read_mark(second)
            b.buffer.flush()
        # Reported last at 0 s (the one at 1 s is A's), judged as of 0 s.
        assert judged_as_of(dbapi, at(last)) == at(0)
        (state,) = servicegroup_api.API().get_states(
            dbapi.service_get_all(), judged_as_of(dbapi, at(last)))
        assert state.up is None, state
        dropped = at(0) + datetime.timedelta(seconds=progress.dropout() + 1)
        assert judged_as_of(dbapi, dropped) == at(last)
    # Back: what it held is written.
    a.buffer.flush()
    assert dbapi.service_get_all()[0].report_count == 2


def test_the_first_holder_of_a_new_deployment_claims_nothing_at_first(
        intakes, clock):
    """Nothing read yet: services are judged as of now, as before any
    intake said anything."""
    a, b = intakes['a'], intakes['b']
    a.hold_reports()
    b.hold_reports()
    dbapi = a.buffer.dbapi
    assert judged_as_of(dbapi, at(5)) is None
    clock.set(5)
    a.read_mark(4)
    a.buffer.flush()
    assert judged_as_of(dbapi, at(5)) == at(4)


def test_a_new_holder_takes_the_moment_of_the_others(intakes, clock):
    """Becoming a holder moves the judgement neither back nor forth."""
    a, b = intakes['a'], intakes['b']
    a.hold_reports()
    clock.set(30)
    a.read_mark(25)
    a.buffer.flush()
    b.hold_reports()
    dbapi = a.buffer.dbapi
    assert judged_as_of(dbapi, at(30)) == at(25)
    assert {row.host: row.read_until for row in rows(dbapi)} == {
        'a': at(25), 'b': at(25)}


def test_claims_wait_out_the_hold(db, clock, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    monotonic = [1000.0]
    monkeypatch.setattr(progress.time, 'monotonic', lambda: monotonic[0])
    intake = Intake('a')
    intake.hold_reports()
    hold = progress.resume_hold()
    assert ('Liveness judgement on this intake resumes in %d s' % hold
            in caplog.text)
    assert not intake.read_mark(1)
    monotonic[0] += hold
    assert intake.read_mark(2)
    # A mark that failed: nothing claimed until a hold after marks
    # resume.
    intake.progress.suspend()
    monotonic[0] += 100
    assert not intake.read_mark(3)
    intake.progress.hold()
    assert not intake.read_mark(4)
    monotonic[0] += hold
    assert intake.read_mark(5)
    intake.stop()


def test_a_retired_intake_leaves_no_row(intakes):
    a = intakes['a']
    a.hold_reports()
    a.stop()
    assert [row.host for row in rows(a.buffer.dbapi)] == []


def test_rows_of_intakes_that_died_a_day_ago_are_removed(intakes, clock):
    a, b = intakes['a'], intakes['b']
    a.hold_reports()
    clock.set(24 * 3600 + 1)
    b.hold_reports()
    assert [row.host for row in rows(a.buffer.dbapi)] == ['b']


def test_an_idle_intake_writes_nothing(intakes):
    """Not consuming and nothing held: the flush only probes."""
    a = intakes['a']
    assert a.progress.next_row() is None
    a.buffer.flush()
    assert rows(a.buffer.dbapi) == []
