# SPDX-License-Identifier: Apache-2.0
"""Group commit: concurrent callers share writes, each gets its outcome."""

import threading

import pytest

from sgconductor.conductor import groupcommit


class Recorder:
    """write_many that records its batches; the first write blocks until
    ``release`` is set, so that callers pile up behind it."""

    def __init__(self):
        self.batches = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, items):
        self.batches.append(list(items))
        self.started.set()
        self.release.wait(5)
        return [self.outcome(item) for item in items]

    @staticmethod
    def outcome(item):
        if item < 0:
            return ValueError('negative: %d' % item)
        return item * 10


def submit_all(group, items):
    """Submit each item from a thread of its own; {item: outcome or
    exception}."""
    outcomes = {}

    def submit(item):
        try:
            outcomes[item] = group.submit(item)
        except Exception as exc:
            outcomes[item] = exc

    threads = [threading.Thread(target=submit, args=(item,))
               for item in items]
    for thread in threads:
        thread.start()
    return threads, outcomes


def test_a_lone_caller_writes_at_once():
    recorder = Recorder()
    recorder.release.set()
    group = groupcommit.GroupCommit(recorder)
    assert group.submit(4) == 40
    assert recorder.batches == [[4]]


def test_callers_arriving_during_a_write_share_the_next_one():
    recorder = Recorder()
    group = groupcommit.GroupCommit(recorder)
    first, outcomes = submit_all(group, [1])
    assert recorder.started.wait(5)
    others, more = submit_all(group, range(2, 50))
    # Every other caller is queued behind the write in progress.
    while len(group._queue) < 48:
        threading.Event().wait(0.01)
    recorder.release.set()
    for thread in first + others:
        thread.join(5)
    assert recorder.batches[0] == [1]
    assert sorted(recorder.batches[1]) == list(range(2, 50))
    assert len(recorder.batches) == 2
    outcomes.update(more)
    assert outcomes == {item: item * 10 for item in range(1, 50)}


def test_an_outcome_that_is_an_exception_is_raised_to_its_caller_only():
    recorder = Recorder()
    group = groupcommit.GroupCommit(recorder)
    blocker, _ = submit_all(group, [0])
    assert recorder.started.wait(5)
    threads, outcomes = submit_all(group, [5, -1, 6])
    while len(group._queue) < 3:
        threading.Event().wait(0.01)
    recorder.release.set()
    for thread in blocker + threads:
        thread.join(5)
    assert outcomes[5] == 50 and outcomes[6] == 60
    assert isinstance(outcomes[-1], ValueError)


def test_a_failing_write_fails_its_batch_and_not_the_next():
    calls = []

    def write_many(items):
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError('database on fire')
        return items

    group = groupcommit.GroupCommit(write_many)
    with pytest.raises(RuntimeError, match='on fire'):
        group.submit(1)
    assert group.submit(2) == 2


def test_a_write_with_the_wrong_number_of_outcomes_fails_its_batch():
    group = groupcommit.GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match='0 outcomes for 1 items'):
        group.submit(1)
    group = groupcommit.GroupCommit(lambda items: items)
    assert group.submit(2) == 2


def test_an_interrupted_write_still_answers_its_callers():
    """Not even a BaseException leaves the group committing forever."""
    calls = []

    def write_many(items):
        calls.append(items)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return items

    group = groupcommit.GroupCommit(write_many)
    with pytest.raises(KeyboardInterrupt):
        group.submit(1)
    assert group.submit(2) == 2
