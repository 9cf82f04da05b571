# SPDX-License-Identifier: Apache-2.0
"""Unit test fixtures: see tests/inprocess.py."""

import collections

import pytest

from sgconductor import tally
from tests.inprocess import conductor  # noqa: F401
from tests.inprocess import conf  # noqa: F401
from tests.inprocess import ctxt  # noqa: F401
from tests.inprocess import db  # noqa: F401
from tests.inprocess import rpcapi  # noqa: F401


@pytest.fixture(autouse=True)
def fresh_tallies(monkeypatch):
    """Every test starts with no event counted or logged (the tallies
    are the process's)."""
    for counted in tally.TALLIES:
        monkeypatch.setattr(counted, '_untaken', collections.Counter())
        monkeypatch.setattr(counted, '_unlogged', collections.Counter())
        monkeypatch.setattr(counted, '_logged_in_full', {})
        monkeypatch.setattr(counted, '_unlogged_since', None)
