# SPDX-License-Identifier: Apache-2.0
"""Rolling upgrades: version history, the RPC version cap, cached
versions, and what the conductor refuses (in-memory transport)."""

import logging
import threading
import time
from unittest import mock

import kombu
import oslo_messaging as messaging
import pytest
import sqlalchemy as sa

from sgconductor import exception
from sgconductor import rpc
from sgconductor import service
from sgconductor import version
from sgconductor.conductor import announcer as announcer_module
from sgconductor.conductor import manager
from sgconductor.conductor import pinning
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.conductor import versioncache
from sgconductor.db.sqlalchemy import models
from tests.inprocess import envelope
from tests.inprocess import last_seen
from tests.inprocess import report
from tests.unit.test_manager import wait_for


def test_history_ends_at_the_rpc_version_client_and_server_speak():
    history = version.SERVICE_VERSION_HISTORY
    assert version.SERVICE_VERSION == len(history) - 1
    newest = history[-1]['conductor_rpc']
    assert newest == conductor_rpcapi.ConductorAPI.RPC_API_VERSION
    assert newest == manager.RPC_API_VERSION
    rpc_versions = [tuple(map(int, entry['conductor_rpc'].split('.')))
                    for entry in history]
    assert rpc_versions == sorted(rpc_versions)
    assert 0 < version.OLDEST_SUPPORTED_SERVICE_VERSION <= \
        version.SERVICE_VERSION


def test_every_alias_names_a_version_of_the_history():
    for rpc_version in version.CONDUCTOR_RPC_ALIASES.values():
        assert rpc_version in version.conductor_rpc_versions()


def test_newer_service_versions_map_to_this_codes_newest():
    newest = conductor_rpcapi.ConductorAPI.RPC_API_VERSION
    assert version.conductor_rpc_version(version.SERVICE_VERSION + 5) == \
        newest
    assert version.conductor_rpc_version(1) == '1.0'


@pytest.mark.parametrize('level,cap', [
    (None, None), ('1.0', '1.0'), ('1.1', '1.1'), ('2026.2', '1.0')])
def test_pinned_levels(conf, level, cap):
    def oldest():
        raise AssertionError('a pin must not ask the conductors')

    conf.config(conductor=level, group='upgrade_levels')
    assert pinning.VersionCap(oldest).get() == cap


def test_auto_follows_the_oldest_conductor_and_says_so_once(conf, caplog):
    conf.config(conductor='auto', group='upgrade_levels')
    oldest = [0]
    cap = pinning.VersionCap(lambda: oldest[0])
    caplog.set_level(logging.INFO, logger=pinning.__name__)
    seen = []
    for conductor_version in (0, 0, 1, 1, 2, 2, 7):
        oldest[0] = conductor_version
        seen.append(cap.get())
    # No conductor yet: what the oldest supported one speaks, asked again
    # every time, so the first one to register lifts it.
    assert seen == ['1.0', '1.0', '1.0', '1.0', '1.1', '1.1',
                    conductor_rpcapi.ConductorAPI.RPC_API_VERSION]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4, messages
    assert 'has registered yet' in messages[0]
    assert 'oldest %s runs service version 1' % pinning.CONDUCTOR_BINARY \
        in messages[1]
    assert 'service version 7' in messages[3]


class CountingAPI:
    """Answers get_min_versions / get_max_versions from a dict, counting
    calls: what a VersionCache asks the conductor."""

    topic = 'sgunit-counting'

    def __init__(self, versions):
        self.versions = versions
        self.calls = 0
        self.during_call = None

    def get_min_versions(self, ctxt, binaries):
        self.calls += 1
        if self.during_call:
            self.during_call()
        return {b: self.versions.get(b) for b in binaries}

    get_max_versions = get_min_versions


def test_cache_keeps_answers_but_not_nothing_runs(conf):
    api = CountingAPI({'nova-compute': 3})
    cache = versioncache.VersionCache(api, ttl=600)
    assert [cache.min_version(None, 'nova-compute') for _ in range(5)] == \
        [3] * 5
    assert api.calls == 1
    assert cache.max_version(None, 'nova-compute') == 3
    assert api.calls == 2
    # A binary nobody runs yet is asked about every time.
    assert [cache.min_version(None, 'nova-api') for _ in range(3)] == \
        [0] * 3
    assert api.calls == 5


def test_cache_ttl_zero_always_asks(conf):
    api = CountingAPI({'nova-compute': 3})
    cache = versioncache.VersionCache(api, ttl=0)
    for _ in range(3):
        cache.min_version(None, 'nova-compute')
    assert api.calls == 3


def test_invalidation_drops_answers_and_those_in_flight(conf):
    api = CountingAPI({'nova-compute': 3, 'nova-api': 2})
    cache = versioncache.VersionCache(api, ttl=600)
    cache.min_version(None, 'nova-compute')
    cache.min_version(None, 'nova-api')
    cache.invalidate(['nova-compute'])
    api.versions['nova-compute'] = 4
    assert cache.min_version(None, 'nova-compute') == 4
    assert cache.min_version(None, 'nova-api') == 2
    assert api.calls == 3
    # An invalidation that arrives while an answer is on its way: that
    # answer may be the stale one, so it is used once but not kept.
    api.during_call = lambda: cache.invalidate(['nova-compute'])
    cache.invalidate()
    assert cache.min_version(None, 'nova-compute') == 4
    api.during_call = None
    cache.min_version(None, 'nova-compute')
    assert api.calls == 5
    # Another binary's invalidation in the meantime does not matter.
    cache.invalidate(['nova-compute'])
    api.during_call = lambda: cache.invalidate(['nova-api'])
    cache.min_version(None, 'nova-compute')
    api.during_call = None
    cache.min_version(None, 'nova-compute')
    assert api.calls == 6


class FlakyClient:
    """An RPC client whose first ``failures`` casts the broker refuses."""

    def __init__(self, failures):
        self.failures = failures
        self.sent = []

    def prepare(self, **kwargs):
        return self

    def cast(self, ctxt, method, **kwargs):
        if self.failures:
            self.failures -= 1
            raise messaging.MessageDeliveryFailure('broker gone')
        self.sent.append(kwargs['binaries'])


def test_announcements_the_broker_refused_are_sent_later(conf, caplog):
    announcer = announcer_module.VersionAnnouncer('sgunit-flaky')
    announcer._client = FlakyClient(failures=2)
    announcer.touched(['nova-compute'])
    announcer._announce()
    announcer.touched(['nova-api'])
    announcer._announce()
    assert announcer._client.sent == []
    announcer._announce()
    assert announcer._client.sent == [['nova-api', 'nova-compute']]
    assert caplog.text.count('Lost contact with the broker') == 1


def test_new_client_pinned_to_an_old_conductor(conf, db, ctxt,
                                                monkeypatch):
    """A conductor that speaks 1.0 (its endpoint targeted at 1.0) and a
    client pinned to release 2026.2: every 1.0 method works, what 1.1
    added is refused by the client before anything is sent, and an
    unpinned client would have been refused by the conductor, but for
    registering, which falls back."""
    endpoint = manager.ConductorManager(conf.conf.conductor.topic)
    endpoint.target = messaging.Target(version='1.0')
    transport = rpc.create_transport()
    server = rpc.get_server(messaging.Target(
        topic=conf.conf.conductor.topic, server='old'), [endpoint],
        transport)
    server.start()
    try:
        conf.config(conductor='2026.2', group='upgrade_levels')
        pinned = conductor_rpcapi.ConductorAPI()
        pinned.register_service(ctxt, report('cn1'))
        assert [s['host'] for s in pinned.service_get_all(ctxt)] == ['cn1']
        with pytest.raises(exception.ConductorTooOld) as info:
            pinned.service_get_all(ctxt, down_for=60)
        assert 'needs conductor RPC version 1.1' in str(info.value)
        assert '2026.2' in str(info.value)
        # Unpinned, the message goes out and the conductor refuses it:
        # the caller is told what to set.
        conf.config(conductor=None, group='upgrade_levels')
        unpinned = conductor_rpcapi.ConductorAPI()
        # No queue takes the registrations topic: RabbitMQ returns the
        # call at once (kombu's in-memory broker would drop it).
        monkeypatch.setattr(unpinned.registrations_client, 'prepare',
                            mock.Mock(return_value=mock.Mock(**{
                                'call.side_effect':
                                    messaging.MessageUndeliverable(
                                        None, 'sgunit', 'registrations',
                                        None)})))
        # Registering, which every service must be able to do, falls back
        # to the conductor topic and 1.0, and leaves the clock out.
        assert unpinned.register_service(ctxt, report('cn2'))[
            'outcome'] == 'created'
        assert {s['host']: s['clock_skew']
                for s in unpinned.service_get_all(ctxt)} == {
            'cn1': None, 'cn2': None}
        with pytest.raises(exception.ConductorTooOld) as info:
            conductor_rpcapi.ConductorAPI().service_get_all(ctxt,
                                                            down_for=60)
        assert str(info.value).startswith(
            'A conductor refused service_get_all at RPC version 1.1')
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def test_auto_caps_from_the_registered_conductors(conf, rpcapi, ctxt):
    conf.config(conductor='auto', version_cache_ttl=0,
                group='upgrade_levels')
    client = conductor_rpcapi.ConductorAPI()
    # No conductor registered: capped at what the oldest supported one
    # speaks.
    with pytest.raises(exception.ConductorTooOld):
        client.service_get_all(ctxt, down_for=0)
    rpcapi.register_service(ctxt, report(
        'old-conductor', binary=pinning.CONDUCTOR_BINARY, version=1))
    with pytest.raises(exception.ConductorTooOld):
        client.service_get_all(ctxt, down_for=0)
    rpcapi.register_service(ctxt, report(
        'old-conductor', binary=pinning.CONDUCTOR_BINARY,
        version=version.SERVICE_VERSION))
    assert client.service_get_all(ctxt, down_for=0) == []


def test_down_for_lists_services_down_at_least_that_long(conf, db, rpcapi,
                                                         ctxt):
    for host in ('fresh', 'gone-a-minute', 'gone-a-day', 'fenced'):
        rpcapi.register_service(ctxt, report(host))
    last_seen(db, 'gone-a-minute', 60)
    last_seen(db, 'gone-a-day', 86400)
    last_seen(db, 'fenced', 7200)
    rpcapi.service_update(ctxt, 'fenced', 'nova-compute',
                          {'forced_down': True})

    def hosts(down_for):
        return sorted(s['host'] for s in rpcapi.service_get_all(
            ctxt, down_for=down_for))

    assert hosts(0) == ['fenced', 'gone-a-day', 'gone-a-minute']
    assert hosts(30) == ['fenced', 'gone-a-day', 'gone-a-minute']
    assert hosts(3600) == ['fenced', 'gone-a-day']
    assert hosts(2 * 86400) == []


@pytest.mark.parametrize('down_for', [-1, 'an hour', 1.5, True, 2 ** 40])
def test_bad_down_for_is_refused(rpcapi, ctxt, down_for):
    with pytest.raises(exception.Invalid) as info:
        rpcapi.service_get_all(ctxt, down_for=down_for)
    assert 'down_for' in str(info.value)


def test_too_old_services_are_refused_and_stored_nowhere(rpcapi, ctxt, db):
    too_old = version.OLDEST_SUPPORTED_SERVICE_VERSION - 1
    with pytest.raises(exception.ServiceTooOld) as info:
        rpcapi.register_service(ctxt, report('old', version=too_old))
    assert exception.first_line(info.value) == (
        'nova-compute on old runs service version %d, older than the '
        'oldest this conductor serves (%d): upgrade it.'
        % (too_old, version.OLDEST_SUPPORTED_SERVICE_VERSION))
    rpcapi.report_state(ctxt, report('old', version=too_old))
    rpcapi.register_service(ctxt, report('marker'))
    service = models.Service.__table__
    with db.get_engine().connect() as connection:
        hosts = connection.execute(sa.select(service.c.host)).scalars()
        assert list(hosts) == ['marker']


def test_a_conductor_registers_and_reports_itself(conf, db, ctxt):
    transport = rpc.create_transport()
    conductor = service.Conductor(transport, report_self=True)
    conductor.start()
    try:
        rpcapi = conductor_rpcapi.ConductorAPI()
        registered = threading.Event()

        def listed():
            services = rpcapi.service_get_all(
                ctxt, binary=pinning.CONDUCTOR_BINARY)
            if services and services[0]['report_count'] >= 2:
                registered.set()
            return services

        while not registered.wait(0.1):
            (conductor_service,) = listed() or [None]
        assert conductor_service['host'] == conf.conf.host
        assert conductor_service['version'] == version.SERVICE_VERSION
        assert conductor_service['state'] == 'up'
        assert rpcapi.get_min_version(ctxt, pinning.CONDUCTOR_BINARY) == \
            version.SERVICE_VERSION
    finally:
        conductor.stop()
        transport.cleanup()


@pytest.fixture
def listening(rpcapi):
    """A VersionCache that keeps answers for ten minutes, listening to
    the conductor's announcements."""
    cache = versioncache.VersionCache(rpcapi, ttl=600)
    cache.start()
    yield cache
    cache.stop()


def test_announcements_keep_a_long_lived_cache_fresh(rpcapi, ctxt,
                                                     listening):
    rpcapi.register_service(ctxt, report('cn1', version=1))
    rpcapi.register_service(ctxt, report('cn2', version=3))
    assert listening.min_version(ctxt, 'nova-compute') == 1
    assert listening.max_version(ctxt, 'nova-compute') == 3

    def becomes(bound, expected):
        ask = getattr(listening, '%s_version' % bound)
        wait_for(lambda: ask(ctxt, 'nova-compute') == expected)

    rpcapi.register_service(ctxt, report('cn1', version=2))  # upgraded
    becomes('min', 2)
    rpcapi.service_update(ctxt, 'cn1', 'nova-compute', {'forced_down': True})
    becomes('min', 3)
    rpcapi.register_service(ctxt, report('cn3', version=4))  # a new node
    becomes('max', 4)
    rpcapi.service_delete(ctxt, 'cn3', 'nova-compute')
    becomes('max', 3)
    # Between announcements, answers come from the cache.
    assert listening.min_version(ctxt, 'nova-compute') == 3
    asked = []
    listening.rpcapi = CountingAPI({'nova-compute': 99})
    listening.rpcapi.during_call = lambda: asked.append(True)
    assert listening.min_version(ctxt, 'nova-compute') == 3
    assert not asked


def test_a_storm_of_changes_is_a_handful_of_announcements(
        conductor, rpcapi, ctxt, listening):
    announcer = conductor.manager.announcer
    for i in range(500):
        announcer.touched(['binary-%d' % (i % 7)])
    rpcapi.register_service(ctxt, report('last'))
    wait_for(lambda: listening.announcements.counts['heard'] >= 1)
    time.sleep(5 * announcer_module.MIN_GAP)
    assert listening.announcements.counts['heard'] <= 5


def test_poison_on_the_announcement_exchange_is_dropped(conf, rpcapi, ctxt,
                                                        listening, caplog):
    topic = versioncache.announcements_topic(rpcapi.topic)
    exchange = rpc.fanout_queue(topic).exchange
    with rpc.broker_connections()[0] as connection:
        producer = kombu.Producer(connection.channel(), exchange)
        for body in (b'not json', envelope(method='drop_tables', args={}),
                     envelope(method='versions_changed',
                              args={'binaries': 'nova-compute'})):
            producer.publish(body, content_type='application/json',
                             content_encoding='utf-8')
    wait_for(lambda: listening.announcements.counts['poison'] == 3)
    rpcapi.register_service(ctxt, report('cn1', version=2))
    wait_for(lambda: listening.min_version(ctxt, 'nova-compute') == 2)
    assert 'Dropped a message from queue' in caplog.text


def test_dead_services_stop_pinning_and_caches_hear_of_it(
        conductor, rpcapi, ctxt, db, listening):
    rpcapi.register_service(ctxt, report('cn-old', version=1))
    rpcapi.register_service(ctxt, report('cn-new', version=2))
    conductor.manager.announce_version_expiry()  # takes note
    assert listening.min_version(ctxt, 'nova-compute') == 1
    # Switched off a day and a second ago ([conductor] dead_after), and
    # never deleted: it no longer holds the deployment back.
    last_seen(db, 'cn-old', 86401)
    assert rpcapi.get_min_version(ctxt, 'nova-compute') == 2
    assert rpcapi.get_max_version(ctxt, 'nova-compute') == 2
    conductor.manager.announce_version_expiry()
    wait_for(lambda: listening.min_version(ctxt, 'nova-compute') == 2)
    # It still lists, as down.
    (old,) = rpcapi.service_get_all(ctxt, host='cn-old')
    assert old['state'] == 'down'
    # Back with a report: it counts again.
    rpcapi.register_service(ctxt, report('cn-old', version=1))
    wait_for(lambda: listening.min_version(ctxt, 'nova-compute') == 1)
