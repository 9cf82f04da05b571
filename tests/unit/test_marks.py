# SPDX-License-Identifier: Apache-2.0
"""Marks put at the end of the queue, and what a failed one tells the
intake (see marks.py)."""

import logging
import types
from unittest import mock

import kombu
import pytest

from sgconductor.conductor import marks

QUEUE = 'marks-test'


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


class Told:
    """The marker's callbacks, recorded."""

    def __init__(self):
        self.calls = []

    def marker(self):
        return marks.Marker(QUEUE, lambda: self.calls.append('suspended'),
                            lambda: self.calls.append('resumed'))


def test_marks_are_put_at_once_then_one_a_mark_interval(clock, broker,
                                                       queue):
    marker = Told().marker()
    marker.follow(broker)
    marker.put_if_due()
    assert len(marks_in(queue)) == 1
    clock[0] += marks.MARK_INTERVAL - 0.1
    marker.put_if_due()
    assert marks_in(queue) == []
    clock[0] += 0.1
    marker.put_if_due()
    assert len(marks_in(queue)) == 1
    marker.close()


def test_a_mark_that_fails_suspends_claims_until_marks_resume(
        clock, broker, queue, monkeypatch, caplog):
    """The intake claims nothing from the failure on (progress.py), and
    learns when marks can be put again."""
    caplog.set_level(logging.INFO)
    told = Told()
    marker = told.marker()
    marker.follow(broker)
    marker.put_if_due()
    assert len(marks_in(queue)) == 1

    def refused(*args, **kwargs):
        raise ConnectionRefusedError('broker away')

    monkeypatch.setattr(marker._producer, 'publish', refused)
    clock[0] += marks.MARK_INTERVAL
    marker.put_if_due()
    clock[0] += marks.MARK_INTERVAL
    monkeypatch.setattr(marker, '_connect', mock.Mock(
        side_effect=ConnectionRefusedError('still away')))
    marker.put_if_due()
    assert told.calls == ['suspended']
    assert caplog.text.count('Lost contact with the broker (marks on %s)'
                             % QUEUE) == 1
    monkeypatch.undo()
    clock[0] += marks.MARK_INTERVAL
    marker.put_if_due()
    assert told.calls == ['suspended', 'resumed']
    assert 'Contact with the broker (marks on %s) recovered.' % QUEUE in (
        caplog.text)
    assert len(marks_in(queue)) == 1
    marker.close()


def test_reconnecting_after_a_failed_mark_resumes_nothing(
        clock, broker, queue, monkeypatch):
    """The intake lost the broker, so its marker had failed too: the
    intake's new connection makes it a holder again, with a hold of its
    own (progress.py); the marker has nothing more to say."""
    told = Told()
    marker = told.marker()
    marker.follow(broker)
    marker.put_if_due()
    marks_in(queue)
    monkeypatch.setattr(marker._producer, 'publish', mock.Mock(
        side_effect=ConnectionRefusedError('broker away')))
    clock[0] += marks.MARK_INTERVAL
    marker.put_if_due()
    marker.follow(broker)
    marker.put_if_due()
    assert told.calls == ['suspended']
    assert len(marks_in(queue)) == 1
    marker.close()
