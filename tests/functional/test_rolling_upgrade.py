# SPDX-License-Identifier: Apache-2.0
"""A rolling upgrade on RabbitMQ, with real processes.

Computes of the previous service version (1) and of this one report side
by side; the API side's VersionCache, whose TTL outlasts the test, follows
the minimum as the old ones are upgraded, because the conductor announces
every change. Clients capped with ``[upgrade_levels] conductor = auto``
follow the oldest conductor, and clients of the previous release (which
send everything at RPC 1.0) keep working against this conductor.
"""

import oslo_messaging as messaging

from sgconductor import rpc
from sgconductor import version
from sgconductor.conductor import pinning
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.conductor import versioncache
from tests.functional.deployment import one_line

OLD = 1
NEW = version.SERVICE_VERSION
BINARY = 'nova-compute'
# Seconds for agents to register, or for an announcement to arrive.
TIMEOUT = 20
COMPUTE_STOP_TIMEOUT = 15
# Longer than the test: only an announcement can change a cached answer.
CACHE_TTL = 3600


def _versions_of(deployment, hosts):
    def check():
        services = deployment.service_map()
        if set(services) != set(hosts) or any(
                services[h]['state'] != 'up'
                or services[h]['version'] != v for h, v in hosts.items()):
            return None
        return services
    return check


def _upgrade(deployment, computes, host):
    """Stop ``host``'s compute, start this version's in its place."""
    assert computes[host].stop(COMPUTE_STOP_TIMEOUT) == 0
    computes[host] = deployment.start_compute('%s-upgraded' % host,
                                              '--host', host)


def test_computes_upgrade_one_by_one_and_the_cache_follows(deployment,
                                                           client):
    d = deployment
    d.start_conductor()
    versions = {'cn1': OLD, 'cn2': OLD, 'cn3': NEW}
    computes = {host: d.start_compute(host, '--host', host,
                                      '--service-version', str(v))
                for host, v in versions.items()}
    d.wait_for('old and new computes up', _versions_of(d, versions),
               TIMEOUT)

    ctxt = conductor_rpcapi.admin_context()
    cache = versioncache.VersionCache(client, ttl=CACHE_TTL)
    cache.start()
    try:
        assert cache.min_version(ctxt, BINARY) == OLD
        assert cache.max_version(ctxt, BINARY) == NEW

        _upgrade(d, computes, 'cn1')
        versions['cn1'] = NEW
        d.wait_for('cn1 upgraded', _versions_of(d, versions), TIMEOUT)
        # cn2 still runs the old code.
        assert cache.min_version(ctxt, BINARY) == OLD

        _upgrade(d, computes, 'cn2')
        versions['cn2'] = NEW
        d.wait_for('the cached minimum to follow the last upgrade',
                   lambda: cache.min_version(ctxt, BINARY) == NEW, TIMEOUT)
        assert d.manage_json('service', 'min-version', BINARY) == {
            BINARY: NEW}
        assert cache.announcements.counts['poison'] == 0
    finally:
        cache.stop()


def test_auto_cap_follows_the_oldest_conductor(deployment, client):
    d = deployment
    d.start_conductor()
    auto = d.write_config('auto.conf', {'upgrade_levels': {
        'conductor': 'auto', 'version_cache_ttl': CACHE_TTL}})

    def list_down_for():
        return d.manage('--config-file', auto, 'service', 'list',
                        '--down-for', '1h', '--format', 'json')

    cache = versioncache.VersionCache(client, ttl=CACHE_TTL)
    cache.start()
    api_side = pinning.VersionCap(
        lambda: cache.min_version(conductor_rpcapi.admin_context(),
                                  pinning.CONDUCTOR_BINARY),
        level='auto')
    try:
        # Only this conductor (this version) runs, once it registered.
        d.wait_for('the conductor to register itself',
                   lambda: api_side.get() == version.conductor_rpc_version(
                       NEW), TIMEOUT)
        assert list_down_for().returncode == 0
        # A conductor of the previous service version registers (as its
        # reporter does when it starts).
        old = d.start_compute('old-conductor', '--host', 'old-conductor',
                              '--binary', pinning.CONDUCTOR_BINARY,
                              '--service-version', str(OLD))
        d.wait_for('the cap to drop to what the old conductor speaks',
                   lambda: api_side.get() == '1.0', TIMEOUT)
        result = list_down_for()
        assert result.returncode == 1
        assert 'needs conductor RPC version 1.1' in one_line(result.stderr)
        # It is upgraded: the cap rises with it.
        assert old.stop(COMPUTE_STOP_TIMEOUT) == 0
        d.start_compute('old-conductor-upgraded', '--host', 'old-conductor',
                        '--binary', pinning.CONDUCTOR_BINARY)
        d.wait_for('the cap to rise again',
                   lambda: api_side.get() == version.conductor_rpc_version(
                       NEW), TIMEOUT)
        assert list_down_for().returncode == 0
    finally:
        cache.stop()


def test_clients_of_the_previous_release_keep_working(deployment, client):
    """What a 2026.2 client puts on the wire (every message at 1.0,
    version calls on the versions topic, heartbeats on the reports topic),
    and a client of this code pinned to 2026.2."""
    d = deployment
    d.start_conductor()
    ctxt = conductor_rpcapi.admin_context()

    def old_client(topic):
        return rpc.get_client(messaging.Target(topic=topic, version='1.0'))

    report = {'host': 'old-client', 'binary': BINARY, 'topic': BINARY,
              'version': OLD, 'availability_zone': 'nova'}
    registered = old_client(d.topic).prepare(timeout=10).call(
        ctxt, 'register_service', **report)
    assert registered['outcome'] == 'created'
    old_client(conductor_rpcapi.reports_topic(d.topic)).cast(
        ctxt, 'report_state', uuid=registered['service']['uuid'], **report)
    d.wait_for('the old client\'s heartbeat',
               lambda: d.service_map()['old-client']['report_count'] == 2,
               TIMEOUT)
    listed = old_client(d.topic).prepare(timeout=10).call(
        ctxt, 'service_get_all', host=None, binary=BINARY)
    assert [s['host'] for s in listed] == ['old-client']
    versions_topic = conductor_rpcapi.versions_topic(d.topic)
    assert old_client(versions_topic).prepare(timeout=10).call(
        ctxt, 'get_min_version', binaries=[BINARY]) == {BINARY: OLD}

    pinned = d.write_config('pinned.conf', {
        'upgrade_levels': {'conductor': '2026.2'}})
    assert [s['host'] for s in d.manage_json(
        '--config-file', pinned, 'service', 'list', '--binary', BINARY)] == [
        'old-client']
    result = d.manage('--config-file', pinned, 'service', 'list',
                      '--down-for', '0')
    assert result.returncode == 1
    assert '[upgrade_levels] conductor = 2026.2' in one_line(result.stderr)
