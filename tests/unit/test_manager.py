# SPDX-License-Identifier: Apache-2.0
"""The conductor over RPC (in-memory transport), as its clients see it."""

import datetime
import logging
import threading
import time
from unittest import mock

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from oslo_utils import timeutils

from sgconductor import exception
from sgconductor.conductor import manager
from sgconductor.conductor import rpcapi as conductor_rpcapi
from tests.inprocess import report
from tests.inprocess import stored


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError('condition not met within %s s' % timeout)


def listing(rpcapi, ctxt, **filters):
    return rpcapi.service_get_all(ctxt, **filters)


def test_rpc_versions_of_client_and_server_match():
    assert (conductor_rpcapi.ConductorAPI.RPC_API_VERSION
            == manager.RPC_API_VERSION)


def test_register_then_cast_really_arrives(rpcapi, ctxt):
    result = rpcapi.register_service(ctxt, report())
    assert result['outcome'] == 'created'
    service = result['service']
    assert service['state'] == 'up' and service['report_count'] == 1
    rpcapi.report_state(ctxt, report(uuid=service['uuid']))
    wait_for(lambda: listing(rpcapi, ctxt)[0]['report_count'] == 2)


def test_concurrent_registrations_each_get_their_own_answer(rpcapi, ctxt):
    """Registrations written together (see groupcommit) are answered one
    by one: each caller gets its own service, callers of one service the
    same row, and every registration is counted."""
    answers = {}

    def register(name, host):
        answers[name] = rpcapi.register_service(ctxt, report(host))

    threads = [threading.Thread(target=register, args=(i, 'h%d' % i))
               for i in range(40)]
    threads += [threading.Thread(target=register, args=('same%d' % i, 'one'))
                for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(40):
        assert answers[i]['outcome'] == 'created'
        assert answers[i]['service']['host'] == 'h%d' % i
    same = [answers['same%d' % i] for i in range(10)]
    assert len({answer['service']['id'] for answer in same}) == 1
    assert sorted(answer['outcome'] for answer in same) == (
        ['created'] + ['updated'] * 9)
    counts = {s['host']: s['report_count']
              for s in listing(rpcapi, ctxt)}
    assert counts == dict({'h%d' % i: 1 for i in range(40)}, one=10)


def test_listing_has_the_nova_fields(rpcapi, ctxt):
    rpcapi.register_service(ctxt, report())
    (service,) = listing(rpcapi, ctxt)
    for key in ('id', 'uuid', 'binary', 'host', 'zone', 'status', 'state',
                'updated_at', 'last_seen_up', 'disabled_reason',
                'forced_down', 'version'):
        assert key in service
    assert service['status'] == 'enabled'
    assert service['zone'] == 'nova'


def test_conductor_stamps_time_from_its_own_clock(rpcapi, ctxt):
    # A sender cannot even name the column; the conductor's clock decides.
    with pytest.raises(exception.InvalidReport):
        rpcapi.register_service(ctxt, report(last_seen_up='2000-01-01'))
    fixed = datetime.datetime(2030, 1, 1, 0, 0, 0)
    with mock.patch.object(timeutils, 'utcnow', return_value=fixed):
        service = rpcapi.register_service(ctxt, report())['service']
    assert service['last_seen_up'] == fixed.isoformat()


def test_update_delete_and_not_found(rpcapi, ctxt):
    rpcapi.register_service(ctxt, report())
    service = rpcapi.service_update(ctxt, 'host1', 'nova-compute', {
        'disabled': True, 'disabled_reason': 'maintenance'})
    assert service['status'] == 'disabled'
    assert service['disabled_reason'] == 'maintenance'
    service = rpcapi.service_update(ctxt, 'host1', 'nova-compute',
                                    {'disabled': False})
    assert service['status'] == 'enabled'
    assert service['disabled_reason'] is None
    service = rpcapi.service_update(ctxt, 'host1', 'nova-compute',
                                    {'forced_down': True})
    assert service['state'] == 'down'
    assert service['state_reason'] == 'forced down'
    rpcapi.service_delete(ctxt, 'host1', 'nova-compute')
    assert listing(rpcapi, ctxt) == []
    with pytest.raises(exception.ServiceNotFound):
        rpcapi.service_delete(ctxt, 'host1', 'nova-compute')
    with pytest.raises(exception.ServiceNotFound):
        rpcapi.service_update(ctxt, 'host1', 'nova-compute',
                              {'disabled': True})


def test_update_and_delete_by_uuid_and_id(rpcapi, ctxt):
    first = rpcapi.register_service(ctxt, report('a'))['service']
    second = rpcapi.register_service(ctxt, report('b'))['service']
    service = rpcapi.service_update_by_uuid(ctxt, first['uuid'].upper(),
                                            {'forced_down': True})
    assert (service['host'], service['state']) == ('a', 'down')
    rpcapi.service_delete_by_id(ctxt, uuid=first['uuid'])
    rpcapi.service_delete_by_id(ctxt, service_id=second['id'])
    assert listing(rpcapi, ctxt) == []
    with pytest.raises(exception.ServiceNotFound) as caught:
        rpcapi.service_delete_by_id(ctxt, service_id=second['id'])
    assert exception.first_line(caught.value) == (
        'Service %d could not be found.' % second['id'])
    with pytest.raises(exception.ServiceNotFound):
        rpcapi.service_update_by_uuid(ctxt, first['uuid'],
                                      {'disabled': True})


@pytest.mark.parametrize('key', [
    {},
    {'host': 'a', 'binary': 'nova-compute', 'uuid': None, 'service_id': 1},
    {'uuid': 'not-a-uuid'},
    {'uuid': 42},
    {'service_id': '1'},
    {'service_id': True},
    {'service_id': 0},
    {'service_id': 2 ** 40},
    {'host': 'a'},
])
def test_a_service_named_badly_is_refused(rpcapi, ctxt, key):
    """Raw 1.3 messages, as a buggy or hostile client could send."""
    rpcapi.register_service(ctxt, report('a'))
    before = stored(rpcapi, ctxt)
    client = rpcapi.client.prepare(version='1.3')
    with pytest.raises(exception.Invalid):
        client.call(ctxt, 'service_delete', **key)
    with pytest.raises(exception.Invalid):
        client.call(ctxt, 'service_update', values={'disabled': True},
                    **key)
    assert stored(rpcapi, ctxt) == before


@pytest.mark.parametrize('values', [
    {}, {'disabled': 'yes'}, {'forced_down': 1}, {'host': 'x'},
    {'disabled': True, 'disabled_reason': 'r' * 256},
    {'disabled_reason': 'a reason for an enabled service'},
    {'disabled': True, 'disabled_reason': 'two\nlines'},
])
def test_bad_updates_are_refused_and_change_nothing(rpcapi, ctxt, values):
    rpcapi.register_service(ctxt, report())
    before = listing(rpcapi, ctxt)
    with pytest.raises(exception.InvalidUpdate):
        rpcapi.service_update(ctxt, 'host1', 'nova-compute', values)
    assert listing(rpcapi, ctxt) == before


def test_deleted_service_learns_it_at_registration(rpcapi, ctxt):
    uuid = rpcapi.register_service(ctxt, report())['service']['uuid']
    rpcapi.service_delete(ctxt, 'host1', 'nova-compute')
    result = rpcapi.register_service(ctxt, report(uuid=uuid))
    assert result == {'outcome': 'deleted', 'service': None}
    rpcapi.report_state(ctxt, report(uuid=uuid))
    rpcapi.register_service(ctxt, report(host='other'))  # flushes the cast
    assert [s['host'] for s in listing(rpcapi, ctxt)] == ['other']


def test_uuid_spellings_of_a_deleted_service_are_all_recognised(rpcapi,
                                                                ctxt):
    uuid = rpcapi.register_service(ctxt, report())['service']['uuid']
    rpcapi.service_delete(ctxt, 'host1', 'nova-compute')
    for spelling in (uuid.upper(), uuid.replace('-', ''), '{%s}' % uuid):
        result = rpcapi.register_service(ctxt, report(uuid=spelling))
        assert result['outcome'] == 'deleted', spelling


def test_min_and_max_versions(rpcapi, ctxt):
    for host, version in (('a', 3), ('b', 7), ('c', 5)):
        rpcapi.register_service(ctxt, report(host=host, version=version))
    rpcapi.register_service(ctxt, report(host='s', binary='nova-scheduler',
                                         version=2))
    assert rpcapi.get_min_version(ctxt, 'nova-compute') == 3
    assert rpcapi.get_max_version(ctxt, 'nova-compute') == 7
    assert rpcapi.get_min_version(ctxt, 'nova-api') == 0
    assert rpcapi.get_min_versions(ctxt, ['nova-compute', 'nova-scheduler',
                                          'nova-api']) == {
        'nova-compute': 3, 'nova-scheduler': 2, 'nova-api': None}
    rpcapi.service_update(ctxt, 'a', 'nova-compute', {'forced_down': True})
    assert rpcapi.get_min_version(ctxt, 'nova-compute') == 5
    rpcapi.service_delete(ctxt, 'b', 'nova-compute')
    assert rpcapi.get_max_version(ctxt, 'nova-compute') == 5
    with pytest.raises(exception.Invalid):
        rpcapi.get_min_versions(ctxt, [])
    with pytest.raises(exception.Invalid, match='at most 100'):
        rpcapi.get_max_versions(ctxt, ['b%d' % i for i in range(101)])


BAD_REPORTS = [
    ({'binary': 'b', 'version': 1}, 'host'),
    ({'host': 5, 'binary': 'b', 'version': 1}, 'host'),
    ({'host': '', 'binary': 'b', 'version': 1}, 'host'),
    ({'host': 'h', 'binary': 'b' * 256, 'version': 1}, 'binary'),
    ({'host': 'h', 'binary': 'b', 'version': -1}, 'version'),
    ({'host': 'h', 'binary': 'b', 'version': '2'}, 'version'),
    ({'host': 'h', 'binary': 'b', 'version': 1.5}, 'version'),
    ({'host': 'h', 'binary': 'b', 'version': True}, 'version'),
    ({'host': 'h', 'binary': 'b', 'version': 2 ** 40}, 'version'),
    ({'host': 'h', 'binary': 'b', 'version': 1, 'evil': 1}, 'evil'),
    ({'host': 'h', 'binary': 'b', 'version': 1, 'topic': ['x']}, 'topic'),
    ({'host': 'h', 'binary': 'b', 'version': 1, 'uuid': 'nope'}, 'uuid'),
    ({'host': 'h', 'binary': None, 'version': 1}, 'binary'),
    ({'host': 'h\nINFO forged line', 'binary': 'b', 'version': 1}, 'host'),
    ({'host': 'a\x00b', 'binary': 'b', 'version': 1}, 'host'),
    ({'host': 'a\ud800', 'binary': 'b', 'version': 1}, 'host'),
    ({'host': 'h', 'binary': 'b\udfff', 'version': 1}, 'binary'),
    ({'host': 'cn1 ', 'binary': 'b', 'version': 1}, 'host'),
    ({'host': 'h', 'binary': 'b', 'version': 1, 'availability_zone': '\t'},
     'availability_zone'),
]


@pytest.mark.parametrize('payload,field', BAD_REPORTS)
def test_malformed_report_is_logged_and_changes_nothing(
        rpcapi, ctxt, caplog, payload, field):
    rpcapi.register_service(ctxt, report(host='h', binary='b'))
    before = listing(rpcapi, ctxt)
    caplog.set_level(logging.WARNING, logger='sgconductor')
    rpcapi.report_state(ctxt, payload)
    line = wait_for(lambda: [r for r in caplog.records
                             if r.name.startswith('sgconductor')
                             and 'Dropped report' in r.getMessage()])
    assert len(line) == 1
    message = line[0].getMessage()
    assert field in message
    sender = payload.get('host')
    if isinstance(sender, str) and sender:
        # Escaped when it holds what would forge or break the line.
        assert (sender if sender.isprintable() else ascii(sender)) in message
        assert '\n' not in message
    assert listing(rpcapi, ctxt) == before
    with pytest.raises(exception.InvalidReport):
        rpcapi.register_service(ctxt, payload)


_PRIMITIVES = st.none() | st.booleans() | st.integers() | st.floats() | \
    st.text(max_size=300) | st.lists(st.integers(), max_size=3)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.dictionaries(
    st.sampled_from(['host', 'binary', 'topic', 'version', 'uuid',
                     'availability_zone', 'extra']),
    _PRIMITIVES, max_size=7))
def test_any_report_either_registers_or_changes_nothing(rpcapi, ctxt,
                                                        payload):
    """Whatever a sender puts in a report, the conductor keeps serving."""
    before = listing(rpcapi, ctxt)
    try:
        result = rpcapi.register_service(ctxt, payload)
    except exception.InvalidReport:
        assert listing(rpcapi, ctxt) == before
    else:
        assert result['service']['host'] == payload['host']
        rpcapi.service_delete(ctxt, payload['host'], payload['binary'])


def test_report_while_database_is_unreachable_is_kept_with_a_log_line(
        conductor, rpcapi, ctxt, caplog, tmp_path):
    from sgconductor.db.sqlalchemy import api as sa_api
    sa_api.configure(connection='sqlite:///%s' % (tmp_path / 'no' / 'db'))
    caplog.set_level(logging.WARNING, logger='sgconductor')
    rpcapi.report_state(ctxt, report(host='h'))
    wait_for(lambda: 'Lost contact with the database (reports written '
             'through)' in caplog.text)
    # Kept for when it is back (conductor/deferred.py), not dropped.
    assert len(conductor.intake.writer.deferred) == 1
    assert 'Dropped report' not in caplog.text
    # The conductor is still serving, and says why it cannot answer.
    with pytest.raises(exception.DatabaseUnavailable):
        rpcapi.get_min_version(ctxt, 'nova-compute')


def test_a_flush_between_the_two_reads_of_a_listing_calls_nobody_down(
        db, monkeypatch):
    """The first flush after an outage moves the moment services are
    judged as of far forward, with every heartbeat of the outage. When it
    commits between a listing's read of the services and its read of
    that moment, the listing must not judge the rows it read before
    against the moment it read after."""
    conductor = manager.ConductorManager('topic')
    dbapi = conductor.dbapi
    now = timeutils.utcnow()
    service, _ = dbapi.service_upsert(report('cn1'), now)
    dbapi.service_record_heartbeats({}, now)
    later = now + datetime.timedelta(seconds=600)
    flushed = []

    def flush_after(read):
        def reading(*args, **kwargs):
            result = read(*args, **kwargs)
            if not flushed:
                flushed.append(read.__name__)
                dbapi.service_record_heartbeats({service.id: (1, later)},
                                                later)
            return result
        return reading

    for name in ('service_get_all', 'reports_judged_as_of'):
        monkeypatch.setattr(dbapi, name, flush_after(getattr(dbapi, name)))
    timeutils.set_time_override(later)
    try:
        (listed,) = conductor.service_get_all(None)
    finally:
        timeutils.clear_time_override()
    assert flushed
    assert (listed['state'], listed['report_count']) == ('up', 2), listed
