# SPDX-License-Identifier: Apache-2.0
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
import time

from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.conductor import versioncache

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from tools import local_conductor  # noqa: E402

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
    with local_conductor.running('versions'):
        api = conductor_rpcapi.ConductorAPI()
        ctxt = conductor_rpcapi.admin_context()
        api.register_service(ctxt, {
            'host': 'cn1', 'binary': 'nova-compute', 'version': 2})
        cache = versioncache.VersionCache(api, ttl=3600)
        cache.start()
        cache.min_version(ctxt, 'nova-compute')
        hit = timed(lambda: cache.min_version(ctxt, 'nova-compute'), HITS)
        call = timed(lambda: api.get_min_version(ctxt, 'nova-compute'),
                     CALLS)
        cache.stop()
    print('get_min_version on the API side, p50 / p99 (microseconds)')
    print('  VersionCache hit (%d):           %8.2f / %8.2f' % ((HITS,) + hit))
    print('  round trip over RabbitMQ (%d):     %8.1f / %8.1f'
          % ((CALLS,) + call))
    return 0


if __name__ == '__main__':
    sys.exit(main())
