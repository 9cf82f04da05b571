# SPDX-License-Identifier: Apache-2.0
"""Clock skew: measured at registration, stored, logged, and never part
of the judgement."""

import datetime
import logging

import pytest
from oslo_utils import timeutils

from sgconductor import exception
from sgconductor.conductor import clocks
from sgconductor.conductor import pinning
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.conductor import validation
from tests.inprocess import report

HOUR = datetime.timedelta(hours=1)


def register(rpcapi, ctxt, host, sent_at=None):
    """register_service at 1.5, saying ``sent_at`` for the sender's
    clock."""
    payload = report(host)
    if sent_at is not None:
        payload['sent_at'] = sent_at
    return rpcapi.client.prepare(version='1.5').call(
        ctxt, 'register_service', **payload)['service']


def listed(rpcapi, ctxt):
    return {s['host']: s for s in rpcapi.service_get_all(ctxt)}


def test_a_clock_an_hour_off_either_way_is_stored_logged_and_ignored(
        rpcapi, ctxt, caplog):
    caplog.set_level(logging.WARNING)
    now = timeutils.utcnow()
    register(rpcapi, ctxt, 'ahead', (now + HOUR).isoformat())
    register(rpcapi, ctxt, 'behind', (now - HOUR).isoformat() + 'Z')
    register(rpcapi, ctxt, 'close', (now + datetime.timedelta(
        seconds=5)).isoformat())
    register(rpcapi, ctxt, 'silent')
    services = listed(rpcapi, ctxt)
    assert abs(services['ahead']['clock_skew'] - 3600) <= 1
    assert abs(services['behind']['clock_skew'] + 3600) <= 1
    assert abs(services['close']['clock_skew'] - 5) <= 1
    assert services['silent']['clock_skew'] is None
    # Judged by the conductor's clock alone.
    assert {s['state'] for s in services.values()} == {'up'}
    warned = {record.args['host']: record.getMessage()
              for record in caplog.records
              if record.getMessage().startswith('The clock of')}
    assert sorted(warned) == ['ahead', 'behind']
    assert "s ahead of the conductor's." in warned['ahead']
    assert "s behind the conductor's." in warned['behind']


def test_the_client_sends_its_clock_when_the_conductor_takes_it(
        rpcapi, ctxt):
    rpcapi.register_service(ctxt, report('current'))
    pinned = conductor_rpcapi.ConductorAPI()
    pinned.version_cap = pinning.VersionCap(lambda: 0, level='1.4')
    pinned.register_service(ctxt, report('pinned'))
    services = listed(rpcapi, ctxt)
    assert abs(services['current']['clock_skew']) <= 1
    assert services['pinned']['clock_skew'] is None


@pytest.mark.parametrize('sent_at', [
    42, '', 'yesterday', '2026-13-45T00:00:00', '9' * 100, ['2026'],
    {'at': 'now'}, True,
    # Valid ISO 8601, but beyond datetime once moved to UTC.
    '0001-01-01T00:00:00+05:00', '9999-12-31T23:59:59-05:00'])
def test_a_bad_clock_is_refused_and_changes_nothing(rpcapi, ctxt, sent_at):
    with pytest.raises(exception.InvalidReport, match='sent_at'):
        register(rpcapi, ctxt, 'cn1', sent_at)
    assert rpcapi.service_get_all(ctxt) == []


def test_a_registration_without_a_clock_forgets_the_old_skew(rpcapi,
                                                             ctxt):
    """Downgraded to a release that does not send its clock: the skew
    measured before is no longer known."""
    register(rpcapi, ctxt, 'cn1', (timeutils.utcnow() + HOUR).isoformat())
    register(rpcapi, ctxt, 'cn1')
    assert listed(rpcapi, ctxt)['cn1']['clock_skew'] is None


def test_a_clock_beyond_the_column_is_clamped(rpcapi, ctxt):
    register(rpcapi, ctxt, 'far', '9999-12-31T23:59:59')
    assert listed(rpcapi, ctxt)['far']['clock_skew'] == clocks.MAX_SKEW


def test_report_state_takes_no_clock():
    """Only a registration, a call answered at once (unless no conductor
    runs), says the sender's clock: a heartbeat may have waited in a
    queue behind thousands of others."""
    with pytest.raises(exception.InvalidReport, match='sent_at'):
        validation.check_report(dict(report('cn1'),
                                     sent_at=timeutils.utcnow().isoformat()))
