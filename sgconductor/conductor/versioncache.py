"""get_min_version and get_max_version answers, kept a while.

The API side of a cloud asks for the deployment's minimum service version
before it decides what to send, which would be a round trip to the
conductor per decision. A VersionCache keeps each answer for
``[upgrade_levels] version_cache_ttl`` seconds.

An answer that no service runs a binary is not kept: a new deployment
whose first services are starting must learn of them at once, not be held
to "nothing runs" for a TTL.
"""

import threading
import time

from oslo_config import cfg

CONF = cfg.CONF

MIN = 'min'
MAX = 'max'


class VersionCache:
    """Cached ``get_min_versions`` / ``get_max_versions`` of ``rpcapi``.

    Thread-safe; a lookup that misses calls the conductor without holding
    the lock, so one slow call does not block the hits of other threads.
    """

    def __init__(self, rpcapi, ttl=None):
        self.rpcapi = rpcapi
        self.ttl = CONF.upgrade_levels.version_cache_ttl if ttl is None \
            else ttl
        self._lock = threading.Lock()
        # (MIN or MAX, binary) -> (version, monotonic expiry)
        self._answers = {}
        # Bumped by every invalidation: an answer asked for before one is
        # not kept, it may be what the invalidation replaced.
        self._generation = 0

    def min_version(self, ctxt, binary):
        """Lowest version of ``binary`` that runs, 0 if none does."""
        return self._get(ctxt, MIN, binary)

    def max_version(self, ctxt, binary):
        """Highest version of ``binary`` that runs, 0 if none does."""
        return self._get(ctxt, MAX, binary)

    def invalidate(self, binaries=None):
        """Forget the answers about ``binaries`` (all if None)."""
        with self._lock:
            self._generation += 1
            if binaries is None:
                self._answers.clear()
                return
            for binary in binaries:
                self._answers.pop((MIN, binary), None)
                self._answers.pop((MAX, binary), None)

    def _get(self, ctxt, bound, binary):
        key = (bound, binary)
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None and answer[1] > time.monotonic():
                return answer[0]
            generation = self._generation
        ask = (self.rpcapi.get_min_versions if bound == MIN
               else self.rpcapi.get_max_versions)
        found = ask(ctxt, [binary])[binary]
        if found is not None and self.ttl:
            with self._lock:
                if generation == self._generation:
                    self._answers[key] = (found,
                                          time.monotonic() + self.ttl)
        return found or 0
