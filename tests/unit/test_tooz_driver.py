# SPDX-License-Identifier: Apache-2.0
"""The tooz driver's own behaviour (the shared contract is elsewhere)."""

import datetime
import logging
import re
import time
import types
from concurrent import futures
from unittest import mock

import pytest
from oslo_utils import timeutils
from tooz import coordination

from sgconductor import exception
from sgconductor.servicegroup import api as servicegroup_api
from sgconductor.servicegroup.drivers import tooz_driver

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0)


def service(host, binary='nova-compute'):
    """A service that registered a day ago and reported at NOW."""
    return types.SimpleNamespace(
        host=host, binary=binary, forced_down=False, last_seen_up=NOW,
        created_at=NOW - datetime.timedelta(days=1))


@pytest.fixture
def file_backend(conf, tmp_path):
    conf.config(driver='tooz', group='servicegroup',
                backend_url='file://%s?timeout=2' % (tmp_path / 'tooz'))
    return conf


@pytest.fixture
def api(file_backend):
    """The servicegroup API on a file backend; its watch stopped after."""
    api = servicegroup_api.API()
    yield api
    api.stop()


@pytest.mark.parametrize('url', [
    'mysql://root@127.0.0.1/tooz', 'postgresql://127.0.0.1/tooz',
    'ipc://', None])
def test_backends_without_groups_are_refused(conf, url):
    conf.config(driver='tooz', backend_url=url, group='servicegroup')
    with pytest.raises(exception.ConfigInvalid) as info:
        servicegroup_api.API()
    message = str(info.value)
    assert '[servicegroup] backend_url' in message
    assert 'zookeeper://' in message
    assert len(message.splitlines()) == 1


def test_unreachable_backend_is_a_clear_error_not_a_hang(conf):
    conf.config(driver='tooz', group='servicegroup',
                backend_url='memcached://127.0.0.1:1?timeout=2')
    started = time.monotonic()
    with pytest.raises(exception.ConfigInvalid, match='cannot reach'):
        servicegroup_api.API().check()
    assert time.monotonic() - started < tooz_driver.START_TIMEOUT + 2


def test_combined_liveness_and_reasons(api):
    member = api.join('nova-compute', 'cn1')
    member.join()
    try:
        stale = service('cn3')
        stale.last_seen_up = NOW - datetime.timedelta(hours=1)
        with mock.patch.object(timeutils, 'utcnow', return_value=NOW):
            states = api.get_states([service('cn1'), service('cn2'), stale])
    finally:
        member.leave()
    assert [s.up for s in states] == [True, False, False]
    assert states[1].reason == 'missing from the liveness backend'
    assert states[2].reason.startswith('no report for')


def test_a_service_registered_moments_ago_may_not_have_joined_yet(api):
    """Unknown, not down, for as long as it may take to join (a backend
    electing a new leader makes it wait); down after that."""
    new = service('cn1')
    grace = api.driver._grace()
    for age, up in ((0, None), (grace - 1, None), (grace, False)):
        new.created_at = NOW - datetime.timedelta(seconds=age)
        with mock.patch.object(timeutils, 'utcnow', return_value=NOW):
            (state,) = api.get_states([new])
        assert state.up is up, (age, state)
    assert state.reason == 'missing from the liveness backend'


def test_membership_is_read_once_per_binary_per_listing(api):
    reader = api.driver._watched().coordinator
    services = [service('cn%d' % i) for i in range(10)] + [
        service('s%d' % i, 'nova-scheduler') for i in range(5)]
    with mock.patch.object(reader, 'get_members',
                           wraps=reader.get_members) as spy, \
            mock.patch.object(timeutils, 'utcnow', return_value=NOW):
        api.get_states(services)
    assert sorted(c.args[0] for c in spy.call_args_list) == [
        tooz_driver.group_id('nova-compute'),
        tooz_driver.group_id('nova-scheduler')]


def test_unreadable_backend_makes_state_unknown_not_down(api):
    reader = api.driver._watched().coordinator
    failure = coordination.ToozConnectionError('backend went away')
    with mock.patch.object(reader, 'get_members', side_effect=failure), \
            mock.patch.object(timeutils, 'utcnow', return_value=NOW):
        (state,) = api.get_states([service('cn1')])
    assert state.up is None
    assert state.reason == 'liveness backend unavailable: backend went away'


def test_member_ids_are_unique_per_binary_and_host(conf):
    assert (tooz_driver.member_id('nova-compute', 'h')
            != tooz_driver.member_id('nova-scheduler', 'h'))


def test_ids_are_named_after_the_deployment_by_default(conf):
    conf.config(control_exchange='nova', transport_url='rabbit://h/cell1')
    conf.config(topic='conductor', group='conductor')
    assert tooz_driver.group_id('nova-compute') == (
        b'nova.conductor.cell1.nova-compute')
    assert tooz_driver.member_id('nova-compute', 'cn1') == (
        b'nova.conductor.cell1.nova-compute:cn1')
    conf.config(transport_url='rabbit://h/')
    assert tooz_driver.group_id('b') == b'nova.conductor.%2F.b'
    # Anything that would break a ZooKeeper path or a memcached key.
    conf.config(topic='a/b c', group='conductor')
    assert tooz_driver.group_id('b') == b'nova.a%2Fb%20c.%2F.b'


@pytest.mark.parametrize('prefix,group', [
    ('', b'nova-compute'), ('region1.', b'region1.nova-compute')])
def test_the_prefix_can_be_named(conf, prefix, group):
    """'' gives the bare names of earlier releases, and Nova's."""
    conf.config(group_prefix=prefix, group='servicegroup')
    assert tooz_driver.group_id('nova-compute') == group
    assert tooz_driver.member_id('nova-compute', 'cn1') == (
        group + b':cn1')


@pytest.mark.parametrize('driver,settings,url', [
    ('zk', {('address', 'zookeeper'): 'zk1:2181,zk2:2181',
            ('recv_timeout', 'zookeeper'): 2000},
     'zookeeper://zk1:2181,zk2:2181?timeout=2'),
    ('mc', {('memcached_servers', None): ['mc1:11211', 'mc2:11211']},
     'memcached://mc1:11211?timeout=3'),
])
def test_nova_drivers_map_onto_tooz_with_a_warning(conf, caplog, driver,
                                                   settings, url):
    conf.config(driver=driver, group='servicegroup')
    for (name, group), value in settings.items():
        conf.config(**{name: value, 'group': group})
    api = servicegroup_api.API()
    assert isinstance(api.driver, tooz_driver.ToozDriver)
    assert api.driver.backend_url == url
    assert ('[servicegroup] driver = %s is deprecated' % driver
            in caplog.text)
    assert 'driver = tooz and backend_url = %s' % url in caplog.text


@pytest.mark.parametrize('driver,option', [
    ('zk', '[zookeeper] address'), ('mc', '[DEFAULT] memcached_servers')])
def test_nova_drivers_without_their_address_are_refused(conf, driver,
                                                        option):
    conf.config(driver=driver, group='servicegroup')
    with pytest.raises(exception.ConfigInvalid, match=re.escape(option)):
        servicegroup_api.API()


class _CountingCoordinator:
    """Stands in for a tooz coordinator: counts whole-group reads."""

    def __init__(self, members):
        self.members = members
        self.reads = 0

    def get_members(self, group):
        self.reads += 1
        return types.SimpleNamespace(get=lambda timeout: self.members)


def test_reporters_of_one_process_share_group_reads():
    shared = tooz_driver.GroupMembers(max_age=60)
    coordinator = _CountingCoordinator({b'nova-compute:a'})
    for _ in range(100):
        assert b'nova-compute:a' in shared.get(b'nova-compute', coordinator)
    assert coordinator.reads == 1
    shared.forget(b'nova-compute')
    shared.get(b'nova-compute', coordinator)
    assert coordinator.reads == 2


def test_group_reads_expire():
    shared = tooz_driver.GroupMembers(max_age=0)
    coordinator = _CountingCoordinator(set())
    shared.get(b'g', coordinator)
    shared.get(b'g', coordinator)
    assert coordinator.reads == 2


def wait_until(check, timeout=10):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, 'condition not met in time'
        time.sleep(0.01)


def test_missing_member_is_unknown_while_the_backend_recovers(api):
    watch = api.driver._watched()
    watch.failed(coordination.ToozConnectionError('backend went away'))
    watch.succeeded()
    with mock.patch.object(timeutils, 'utcnow', return_value=NOW):
        (recovering,) = api.get_states([service('cn1')])
        watch.grace = 0
        (missing,) = api.get_states([service('cn1')])
    assert recovering == tooz_driver.RECOVERING
    assert recovering.up is None
    assert missing == tooz_driver.MISSING


def test_failed_group_read_starts_the_grace_period(api):
    reader = api.driver._watched().coordinator
    failure = coordination.ToozConnectionError('backend went away')
    assert not api.driver._watched().recovering()
    with mock.patch.object(reader, 'get_members', side_effect=failure), \
            mock.patch.object(timeutils, 'utcnow', return_value=NOW):
        api.get_states([service('cn1')])
    assert api.driver._watched().recovering()


def test_watch_notices_an_outage_without_any_listing(file_backend, caplog,
                                                     monkeypatch):
    caplog.set_level(logging.INFO, logger='sgconductor.outage')
    monkeypatch.setattr(tooz_driver.BackendWatch, 'PROBE_INTERVAL', 0.01)
    api = servicegroup_api.API()
    api.start()
    watch = api.driver._watched()
    try:
        failure = coordination.ToozConnectionError('backend went away')
        with mock.patch.object(watch.coordinator, 'get_members',
                               side_effect=failure):
            wait_until(lambda: 'Lost contact' in caplog.text)
            assert watch.recovering()
        wait_until(lambda: 'recovered' in caplog.text)
        assert watch.recovering()  # the grace period has just begun
    finally:
        api.stop()
    assert caplog.text.count('Lost contact with the liveness backend: '
                             'backend went away') == 1
    assert caplog.text.count('Contact with the liveness backend '
                             'recovered.') == 1
    assert not watch._thread.is_alive()


def test_listings_do_not_wait_for_a_failing_backend(api):
    watch = api.driver._watched()
    watch.failed(coordination.ToozConnectionError('backend went away'))
    with mock.patch.object(watch.coordinator, 'get_members') as read, \
            mock.patch.object(timeutils, 'utcnow', return_value=NOW):
        (state,) = api.get_states([service('cn1')])
    read.assert_not_called()
    assert state == (None, 'liveness backend unavailable: backend went away')


def test_reads_from_a_hanging_backend_give_up(api):
    member = api.join('nova-compute', 'cn1')
    member.join()
    try:
        never = coordination.CoordinatorResult(futures.Future())
        with mock.patch.object(member.coordinator, 'get_members',
                               return_value=never):
            with pytest.raises(exception.LivenessBackendUnavailable,
                               match='no answer in 2.0 s'):
                member.is_member()
    finally:
        member.leave()


def test_client_library_errors_count_as_backend_failures(api):
    """tooz lets some client errors through untranslated (redis-py's)."""
    member = api.join('nova-compute', 'cn1')
    member.join()
    try:
        with mock.patch.object(member.coordinator, 'get_members',
                               side_effect=ConnectionError('refused')):
            with pytest.raises(exception.LivenessBackendUnavailable,
                               match='refused'):
                member.is_member()
    finally:
        member.leave()
