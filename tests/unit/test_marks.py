"""Marks held back after every interruption (see marks.py)."""

import logging
import types
from unittest import mock

import kombu
import pytest

from sgconductor.conductor import marks

QUEUE = 'marks-test'
HOLD = 5


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    # marks' own view of time only: patched in the time module, the clock
    # would also reach the in-memory broker, whose state outlives the test.
    monkeypatch.setattr(marks, 'time', types.SimpleNamespace(
        monotonic=lambda: now[0]))
    return now


@pytest.fixture
def broker():
    with kombu.Connection('memory://') as connection:
        yield connection


@pytest.fixture
def queue(broker):
    return broker.SimpleQueue(QUEUE)


def marks_in(queue):
    found = []
    while True:
        try:
            message = queue.get(block=False)
        except queue.Empty:
            return found
        message.ack()
        found.append(message.headers[marks.MARK_HEADER])


def assert_held_back(marker, clock, queue):
    """No mark until HOLD s from now, then one."""
    clock[0] += HOLD - 0.1
    marker.put_if_due()
    assert marks_in(queue) == []
    clock[0] += 0.1
    marker.put_if_due()
    assert len(marks_in(queue)) == 1


def test_resume_hold_covers_two_report_intervals(conf):
    conf.config(report_interval=7)
    assert marks.resume_hold() == 2 * 7 + marks.MARK_INTERVAL


def test_marks_wait_out_the_hold_after_connecting(clock, broker, queue):
    marker = marks.Marker(QUEUE, HOLD)
    marker.follow(broker)
    assert_held_back(marker, clock, queue)
    # Then one a MARK_INTERVAL.
    marker.put_if_due()
    clock[0] += marks.MARK_INTERVAL
    marker.put_if_due()
    assert len(marks_in(queue)) == 1
    marker.close()


def test_a_mark_that_fails_holds_back_the_next_ones(clock, broker, queue,
                                                    monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    marker = marks.Marker(QUEUE, HOLD)
    marker.follow(broker)
    clock[0] += HOLD
    marker.put_if_due()
    assert len(marks_in(queue)) == 1

    def refused(*args, **kwargs):
        raise ConnectionRefusedError('broker away')

    monkeypatch.setattr(marker._producer, 'publish', refused)
    clock[0] += marks.MARK_INTERVAL
    marker.put_if_due()
    assert 'Lost contact with the broker (marks on %s)' % QUEUE in (
        caplog.text)
    # Connected again (a new producer): held back, not put at once.
    clock[0] += marks.MARK_INTERVAL
    marker.put_if_due()
    assert 'Contact with the broker (marks on %s) recovered.' % QUEUE in (
        caplog.text)
    assert_held_back(marker, clock, queue)
    marker.close()


def test_reconnecting_after_a_failed_mark_holds_back_once(
        clock, broker, queue, monkeypatch):
    """The intake lost the broker, so its marker had failed too: the
    hold of the reconnection is the only one."""
    marker = marks.Marker(QUEUE, HOLD)
    marker.follow(broker)
    clock[0] += HOLD
    marker.put_if_due()
    marks_in(queue)
    monkeypatch.setattr(marker._producer, 'publish', mock.Mock(
        side_effect=ConnectionRefusedError('broker away')))
    clock[0] += marks.MARK_INTERVAL
    marker.put_if_due()
    marker.follow(broker)
    assert_held_back(marker, clock, queue)
    marker.close()
