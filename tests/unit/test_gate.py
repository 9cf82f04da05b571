# SPDX-License-Identifier: Apache-2.0
"""A conductor process that cannot write to its database stops taking
work while another process takes it (gate.py)."""

import logging

import pytest

from sgconductor.conductor import gate as gate_lib

QUEUE = 'sgunit-reports'


class Seen:
    """What the gate reads: whether the database can be written, and how
    many consumers the broker counts."""

    def __init__(self):
        self.writable = True
        self.consumers = 1

    def gate(self):
        return gate_lib.Gate('heartbeat intake', QUEUE,
                             lambda: self.writable,
                             lambda queue: self.consumers)


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(gate_lib.time, 'monotonic', lambda: now[0])
    monkeypatch.setattr(gate_lib.random, 'uniform', lambda a, b: 1.0)
    return now


def look(clock, gate, consuming):
    """Ask the gate after its next look is due."""
    clock[0] += gate_lib.LOOK_INTERVAL
    return gate.may_consume(consuming)


def test_a_process_that_can_write_always_consumes(clock):
    seen = Seen()
    seen.consumers = 5
    assert seen.gate().may_consume(consuming=True)


def test_it_lets_go_while_another_process_consumes(clock, caplog):
    caplog.set_level(logging.INFO)
    seen = Seen()
    gate = seen.gate()
    seen.writable = False
    seen.consumers = 2   # itself and another
    assert not look(clock, gate, consuming=True)
    # Not connected now: the other one is still there.
    seen.consumers = 1
    assert not look(clock, gate, consuming=False)
    assert caplog.text.count('stops taking from %s' % QUEUE) == 1
    seen.writable = True
    assert gate.may_consume(consuming=False)
    assert 'takes from %s again' % QUEUE in caplog.text


def test_alone_it_goes_on(clock, caplog):
    """Nobody else would take the heartbeats (they would pile up in the
    broker) or answer the calls (each would wait for its timeout)."""
    caplog.set_level(logging.WARNING)
    seen = Seen()
    gate = seen.gate()
    seen.writable = False
    for _ in range(3):
        assert look(clock, gate, consuming=True)
    assert caplog.text.count('no other process takes from %s' % QUEUE) == 1


def test_the_last_one_left_takes_over_after_two_looks(clock):
    """Several closed gates whose queue lost its last consumer: the first
    to see it empty twice opens, and the others then see it taken."""
    seen = Seen()
    first, second = seen.gate(), seen.gate()
    seen.writable = False
    seen.consumers = 2
    assert not look(clock, first, consuming=True)
    assert not look(clock, second, consuming=True)
    seen.consumers = 0
    assert not look(clock, first, consuming=False)
    assert look(clock, first, consuming=False)
    seen.consumers = 1
    assert not look(clock, second, consuming=False)
    assert not look(clock, second, consuming=False)


def test_between_looks_and_when_the_broker_cannot_say_it_keeps_course(
        clock):
    seen = Seen()
    gate = seen.gate()
    seen.writable = False
    seen.consumers = 2
    assert not look(clock, gate, consuming=True)
    seen.consumers = 0
    assert not gate.may_consume(consuming=False)   # no look due yet
    seen.consumers = None
    assert not look(clock, gate, consuming=False)
