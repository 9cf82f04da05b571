# SPDX-License-Identifier: Apache-2.0
"""threads.Periodic: on time whatever happens, and quiet while a failure
lasts."""

import logging
import threading

from sgconductor import exception
from sgconductor import threads


def test_a_lasting_failure_is_told_when_it_starts_and_when_it_ends(caplog):
    caplog.set_level(logging.INFO)
    outcomes = [exception.DatabaseUnavailable(reason='gone')] * 3 + [
        None, exception.DatabaseUnavailable(reason='gone again'), None]
    done = threading.Event()

    def work():
        outcome = outcomes.pop(0)
        if not outcomes:
            done.set()
        if outcome is not None:
            raise outcome

    periodic = threads.Periodic('test-periodic', 0.001, work, 'do the work')
    periodic.start()
    assert done.wait(10)
    periodic.stop()
    told = [r.getMessage() for r in caplog.records]
    assert told == [
        'Could not do the work: The conductor cannot reach its database: '
        'gone',
        'Could do the work again.',
        'Could not do the work: The conductor cannot reach its database: '
        'gone again',
        'Could do the work again.']
