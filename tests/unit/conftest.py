"""Unit test fixtures: see tests/inprocess.py."""

from tests.inprocess import conductor  # noqa: F401
from tests.inprocess import conf  # noqa: F401
from tests.inprocess import ctxt  # noqa: F401
from tests.inprocess import db  # noqa: F401
from tests.inprocess import rpcapi  # noqa: F401
