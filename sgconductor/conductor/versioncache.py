# SPDX-License-Identifier: Apache-2.0
"""get_min_version and get_max_version answers, kept until they change.

The API side of a cloud asks for the deployment's minimum service version
before it decides what to send, which would be a round trip to the
conductor per decision. A VersionCache keeps each answer, and, once
started, listens to the conductors: whenever a conductor writes something
that may change a binary's versions, it announces it (``announcer.py``),
and every listening cache drops its answers about that binary at once. So
answers are cheap and fresh, where Nova's cache of the minimum only clears
on SIGHUP. ``[upgrade_levels] version_cache_ttl`` bounds how long an
answer is kept anyway, for announcements lost while the listener was
disconnected from the broker (it also drops every answer on reconnecting).

An answer that no service runs a binary is not kept: a new deployment
whose first services are starting must learn of them at once, not be held
to "nothing runs" for a TTL.
"""

import collections
import threading
import time

from oslo_config import cfg

from sgconductor import exception
from sgconductor import rpc
from sgconductor.conductor import brokerloop
from sgconductor.conductor import deliveries
from sgconductor.conductor import envelope
from sgconductor.conductor import rejected
from sgconductor.conductor import validation

CONF = cfg.CONF

# The announcements API, conductors to caches. Version history:
#
# * 1.0 - versions_changed(binaries): the versions of these binaries may
#         have changed; ask again.
ANNOUNCEMENTS_VERSION = '1.0'
ANNOUNCEMENT = 'versions_changed'
# Seconds a wait for the next announcement lasts: how quickly the listener
# notices it was asked to stop.
POLL_INTERVAL = 0.2
# Announcements taken from the broker at once.
PREFETCH = 100


def announcements_topic(topic):
    """The topic conductors of ``topic`` fanout-cast announcements to."""
    return '%s-version-changes' % topic

MIN = 'min'
MAX = 'max'


class VersionCache:
    """Cached ``get_min_versions`` / ``get_max_versions`` of ``rpcapi``.

    Thread-safe; a lookup that misses calls the conductor without holding
    the lock, so one slow call does not block the hits of other threads.
    """

    def __init__(self, rpcapi, ttl=None):
        self.rpcapi = rpcapi
        self.announcements = _Announcements(
            self, announcements_topic(rpcapi.topic))
        self.ttl = CONF.upgrade_levels.version_cache_ttl if ttl is None \
            else ttl
        self._lock = threading.Lock()
        # (MIN or MAX, binary) -> (version, monotonic expiry)
        self._answers = {}
        # Bumped by every invalidation, of all answers and per binary
        # asked about (announcements may name any binary): an answer asked
        # for before one is not kept, it may be what the invalidation
        # replaced.
        self._generation = 0
        self._binary_generations = {}

    def start(self):
        """Listen to the conductors' announcements (long-running services;
        a command that asks once has no use for it). Returns once
        listening, or after a few seconds if the broker cannot be reached:
        the listener keeps trying."""
        self.announcements.start()

    def stop(self):
        self.announcements.stop()

    def min_version(self, ctxt, binary):
        """Lowest version of ``binary`` that runs, 0 if none does."""
        return self._get(ctxt, MIN, binary)

    def max_version(self, ctxt, binary):
        """Highest version of ``binary`` that runs, 0 if none does."""
        return self._get(ctxt, MAX, binary)

    def invalidate(self, binaries=None):
        """Forget the answers about ``binaries`` (all if None)."""
        with self._lock:
            if binaries is None:
                self._generation += 1
                self._answers.clear()
                return
            for binary in binaries:
                if binary in self._binary_generations:
                    self._binary_generations[binary] += 1
                self._answers.pop((MIN, binary), None)
                self._answers.pop((MAX, binary), None)

    def _generations(self, binary):
        return (self._generation,
                self._binary_generations.setdefault(binary, 0))

    def _get(self, ctxt, bound, binary):
        key = (bound, binary)
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None and answer[1] > time.monotonic():
                return answer[0]
            generation = self._generations(binary)
        ask = (self.rpcapi.get_min_versions if bound == MIN
               else self.rpcapi.get_max_versions)
        found = ask(ctxt, [binary])[binary]
        if found is not None and self.ttl:
            with self._lock:
                if generation == self._generations(binary):
                    self._answers[key] = (found,
                                          time.monotonic() + self.ttl)
        return found or 0


class _Announcements:
    """Listens to the conductors' announcements (``announcer.py``) for a
    cache: an exclusive queue of this process, bound to the fanout
    exchange they are cast to, consumed on a thread of its own."""

    def __init__(self, cache, topic):
        self.cache = cache
        self.topic = topic
        self.counts = collections.Counter()
        self._loop = brokerloop.BrokerLoop('version announcements',
                                           self._open, self._listen)

    def start(self):
        self._loop.start()

    def stop(self):
        self._loop.stop()

    def _open(self, connection):
        receiver = deliveries.KombuReceiver(
            connection, rpc.fanout_queue(self.topic), PREFETCH)
        # Bound from now on; what changed before was not heard.
        self.cache.invalidate()
        return connection, receiver

    def _listen(self, opened):
        connection, receiver = opened
        while not self._loop.stopping.is_set():
            batch = receiver.receive(POLL_INTERVAL, PREFETCH)
            if batch:
                receiver.settle(batch)
            for delivery in batch:
                self._heard(delivery)
            connection.heartbeat_check()

    def _heard(self, delivery):
        try:
            message = envelope.unpack(
                delivery.body, delivery.headers,
                ANNOUNCEMENTS_VERSION, (ANNOUNCEMENT,))
            binaries = validation.check_binaries(
                message['args'].get('binaries'), validation.invalid)
        except (envelope.Poison, exception.Invalid) as exc:
            self.counts['poison'] += 1
            rejected.dropped(self.topic, exc.reason if isinstance(
                exc, envelope.Poison) else type(exc).__name__, exc)
            return
        self.counts['heard'] += 1
        self.cache.invalidate(binaries)
