# SPDX-License-Identifier: Apache-2.0
"""Conductor side of the version announcements.

Clients keep get_min_version and get_max_version answers in a
``versioncache.VersionCache``. Whenever the conductor writes something
that may change a binary's versions (a service registered, or reporting a
new version; forced down or up; deleted), it tells every listening cache
to drop its answers about that binary: one fanout cast of
``versions_changed(binaries)`` to ``versioncache.announcements_topic``.

Announcements carry names, not versions: a cache that hears one asks
again when it next needs an answer, so announcements that cross each
other, or come from several conductors, cannot leave a stale answer
behind. They are sent from a thread of their own, at most one every
MIN_GAP seconds, holding every binary touched meanwhile: a storm of
registrations costs a handful, and the writer never waits for the broker.
An announcement the broker does not take is logged (once per outage) and
sent again every RETRY_INTERVAL s; meanwhile caches rely on
``[upgrade_levels] version_cache_ttl``.
"""

import threading

import kombu.exceptions
import oslo_messaging as messaging
from oslo_log import log as logging

from sgconductor import outage
from sgconductor import rpc
from sgconductor import threads
from sgconductor.conductor import rpcapi
from sgconductor.conductor import validation
from sgconductor.conductor import versioncache

LOG = logging.getLogger(__name__)

# Seconds between two announcements of one process.
MIN_GAP = 0.2
# Seconds between two attempts to send announcements the broker refused.
RETRY_INTERVAL = 1.0
# What a cast raises when no broker takes it: oslo.messaging's failure,
# or, for a broker refusing the connection, kombu's.
BROKER_AWAY = (messaging.MessageDeliveryFailure,
               kombu.exceptions.OperationalError)


class VersionAnnouncer:

    def __init__(self, topic):
        self.topic = versioncache.announcements_topic(topic)
        self._pending = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._broker = outage.Outage('the broker (version announcements)')
        self._client = None
        self._brokers = 1
        self._thread = threads.Loop('sgconductor-version-announcer',
                                    self._run, wake=self._wake)

    def start(self):
        self._brokers = rpc.broker_count()
        self._client = rpc.get_client(messaging.Target(
            topic=self.topic, version=versioncache.ANNOUNCEMENTS_VERSION,
            fanout=True))
        self._thread.start()

    def stop(self):
        """Send what is pending, then stop."""
        if self._thread.stop():
            self._announce()

    def touched(self, binaries):
        """The versions of ``binaries`` may have changed: announce them
        within MIN_GAP s. Never blocks on the broker."""
        binaries = set(binaries)
        if not binaries:
            return
        with self._lock:
            self._pending.update(binaries)
        self._wake.set()

    def _run(self):
        stopping = self._thread.stopping
        while not stopping.is_set():
            # Woken by touched(); else, once in a while, retry what an
            # unreachable broker left pending.
            self._wake.wait(RETRY_INTERVAL)
            self._wake.clear()
            with self._lock:
                pending = bool(self._pending)
            if pending:
                self._announce()
                stopping.wait(MIN_GAP)

    def _announce(self):
        """Send what is pending; what could not be sent stays pending, to
        be sent with the next (names only: sending twice is harmless)."""
        with self._lock:
            binaries, self._pending = sorted(self._pending), set()
        for start in range(0, len(binaries), validation.MAX_BINARIES):
            chunk = binaries[start:start + validation.MAX_BINARIES]
            try:
                # Each broker of transport_url once: oslo.messaging moves
                # on to the next one with each retry.
                self._client.prepare(retry=self._brokers - 1).cast(
                    rpcapi.admin_context(), versioncache.ANNOUNCEMENT,
                    binaries=chunk)
            except Exception as exc:
                if isinstance(exc, BROKER_AWAY):
                    self._broker.failed(exc)
                else:
                    LOG.exception('Could not announce a change of the '
                                  'versions of %s.', ', '.join(chunk))
                with self._lock:
                    self._pending.update(binaries[start:])
                return
            self._broker.succeeded()
