"""What a get_min_version costs the API side with and without its cache.

Runs a conductor in this process on SQLite and RabbitMQ (the functional
tests' broker, after tools/test-setup.sh; queues of a topic of its own,
deleted when done), registers one service, then times
``VersionCache.min_version`` answered from the cache and
``ConductorAPI.get_min_version``, a round trip, on an idle machine.
doc/upgrades.rst has the results.

    python tools/bench_version_cache.py
"""

import os
import sys
import tempfile
import time
import uuid

from oslo_config import fixture as config_fixture
from oslo_messaging import conffixture as messaging_fixture

from sgconductor import cmd  # noqa: F401 (quiets library deprecations)
from sgconductor import conf as sg_conf
from sgconductor import rpc
from sgconductor import service
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.conductor import versioncache
from sgconductor.db import migration
from sgconductor.db.sqlalchemy import api as sa_api

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from tests.functional import deployment  # noqa: E402

HITS = 100000
CALLS = 500


def percentiles(times):
    times = sorted(times)
    return (times[len(times) // 2] * 1e6, times[int(len(times) * 0.99)] * 1e6)


def timed(function, count):
    times = []
    for _ in range(count):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return percentiles(times)


def main():
    conf = sg_conf.CONF
    config = config_fixture.Config(conf)
    config.setUp()
    messaging = messaging_fixture.ConfFixture(conf)
    messaging.setUp()
    messaging.transport_url = deployment.TRANSPORT_URL
    conf([], project='sgconductor', default_config_files=[])
    topic = 'sgbench-versions-' + uuid.uuid4().hex
    config.config(topic=topic, group='conductor')
    config.config(control_exchange=topic)
    config.config(amqp_auto_delete=True, group='oslo_messaging_rabbit')
    with tempfile.TemporaryDirectory() as workdir:
        sa_api.configure(connection='sqlite:///%s' % os.path.join(
            workdir, 'sg.sqlite'))
        migration.upgrade()
        conductor = service.Conductor(rpc.create_transport())
        conductor.start()
        try:
            api = conductor_rpcapi.ConductorAPI()
            ctxt = conductor_rpcapi.admin_context()
            api.register_service(ctxt, {
                'host': 'cn1', 'binary': 'nova-compute', 'version': 2})
            cache = versioncache.VersionCache(api, ttl=3600)
            cache.start()
            cache.min_version(ctxt, 'nova-compute')
            hit = timed(lambda: cache.min_version(ctxt, 'nova-compute'),
                        HITS)
            call = timed(lambda: api.get_min_version(ctxt, 'nova-compute'),
                         CALLS)
            cache.stop()
        finally:
            conductor.stop()
            rpc.cleanup()
    print('get_min_version on the API side, p50 / p99 (microseconds)')
    print('  VersionCache hit (%d):           %8.2f / %8.2f' % ((HITS,) + hit))
    print('  round trip over RabbitMQ (%d):     %8.1f / %8.1f'
          % ((CALLS,) + call))
    return 0


if __name__ == '__main__':
    sys.exit(main())
