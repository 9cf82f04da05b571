# SPDX-License-Identifier: Apache-2.0
"""A tally: the first of each reason logged in full, the rest summed up
at most once an interval, every one counted (sgconductor/tally.py)."""

import logging

import pytest

from sgconductor import tally

LOG = logging.getLogger('tests.tally')


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(tally.time, 'monotonic', lambda: now[0])
    return now


@pytest.fixture
def counted(clock, monkeypatch):
    monkeypatch.setattr(tally, 'TALLIES', [])
    return tally.Tally('things', LOG, 'Things dropped')


def lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == LOG.name]


def test_a_flood_writes_a_line_per_reason_and_one_summary(counted, clock,
                                                           caplog):
    caplog.set_level(logging.WARNING)
    for number in range(10000):
        counted.add('garbage', 'Dropped %(number)d', number=number)
        clock[0] += 0.001
    counted.add('other', 'Dropped another')
    assert lines(caplog) == [
        'Dropped 0 (more like it are counted, and logged at most once '
        'every 60 s).',
        'Dropped another (more like it are counted, and logged at most '
        'once every 60 s).']
    clock[0] += tally.LOG_INTERVAL
    counted.summarise_if_due()
    counted.summarise_if_due()
    assert len(lines(caplog)) == 3
    assert lines(caplog)[-1] == (
        'Things dropped in the last 70 s, not logged one by one: '
        '9999 garbage.')
    assert counted.take() == {'garbage': 10000, 'other': 1}
    assert counted.take() == {}


def test_a_reason_quiet_for_an_interval_is_logged_in_full_again(
        counted, clock, caplog):
    caplog.set_level(logging.WARNING)
    counted.add('garbage', 'first')
    clock[0] += tally.LOG_INTERVAL
    counted.add('garbage', 'again')
    assert lines(caplog) == [
        'first (more like it are counted, and logged at most once every '
        '60 s).',
        'again (more like it are counted, and logged at most once every '
        '60 s).']


def test_counts_not_written_down_are_given_back(counted):
    counted.add('garbage', 'x')
    taken = counted.take()
    counted.add('garbage', 'x')
    counted.give_back(taken)
    assert counted.take() == {'garbage': 2}


def test_every_tally_is_listed_for_the_counter_writer(counted):
    assert tally.TALLIES == [counted]
