# SPDX-License-Identifier: Apache-2.0
"""What ConductorAPI asks again (rpcapi._call), against the real
conductor on the in-memory transport."""

import pytest

from sgconductor import exception
from sgconductor.conductor import rpcapi as rpcapi_lib
from tests.inprocess import report


def refusing(dbapi, monkeypatch, times):
    """Make ``dbapi.service_get_all`` refuse ``times`` times, as a
    conductor cut off from its database does; returns the count of
    calls."""
    real = dbapi.service_get_all
    calls = []

    def service_get_all(*args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise exception.DatabaseUnavailable(reason='cut off')
        return real(*args, **kwargs)
    monkeypatch.setattr(dbapi, 'service_get_all', service_get_all)
    return calls


def test_a_refused_call_is_asked_again(conductor, rpcapi, ctxt,
                                       monkeypatch):
    rpcapi.register_service(ctxt, report('cn1'))
    calls = refusing(conductor.manager.dbapi, monkeypatch,
                     rpcapi_lib.UNAVAILABLE_RETRIES)
    (listed,) = rpcapi.service_get_all(ctxt)
    assert listed['host'] == 'cn1'
    assert len(calls) == rpcapi_lib.UNAVAILABLE_RETRIES + 1


def test_refused_by_every_attempt_it_says_so(conductor, rpcapi, ctxt,
                                             monkeypatch):
    calls = refusing(conductor.manager.dbapi, monkeypatch, 1000)
    with pytest.raises(exception.DatabaseUnavailable, match='cut off'):
        rpcapi.service_get_all(ctxt)
    assert len(calls) == rpcapi_lib.UNAVAILABLE_RETRIES + 1
