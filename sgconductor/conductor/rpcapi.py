# SPDX-License-Identifier: Apache-2.0
"""Client side of the conductor RPC API.

Everything that talks to the conductor (reporters, sgconductor-manage, the
API side of a cloud) goes through ConductorAPI; nothing else builds RPC
messages for the conductor topic.
"""

import kombu.exceptions
import oslo_messaging as messaging
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_utils import timeutils

from sgconductor import exception
from sgconductor import rpc
from sgconductor.conductor import pinning
from sgconductor.conductor import versioncache

CONF = cfg.CONF

# Times a call refused with DatabaseUnavailable is asked again: a refusal
# takes milliseconds, and the queue hands each attempt to a conductor in
# turn, so that with one of two conductors cut off from its database, all
# eleven attempts land on it about once in 2,000 calls (gate.py).
UNAVAILABLE_RETRIES = 10


def reports_topic(topic):
    """The topic heartbeats are cast to. Conductors consume it in intake
    processes of their own (sgconductor.service), so that a flood of
    heartbeats never delays an operator's call, nor a burst of calls the
    heartbeats.
    """
    return '%s-reports' % topic


def versions_topic(topic):
    """The topic get_min_version and get_max_version are sent to. Every
    conductor worker answers it on a thread of its own
    (``versionserver.py``), without oslo.messaging's RPC server in the
    way: these calls decide which RPC version the API side speaks, and
    are its most frequent.
    """
    return '%s-versions' % topic


def registrations_topic(topic):
    """The topic register_service is sent to (from RPC 1.6). Every
    conductor worker answers it a batch at a time
    (``registrationserver.py``): a fleet starting at once registers in a
    few transactions instead of one call after another.
    """
    return '%s-registrations' % topic


class ConductorAPI:
    """Client side of the conductor RPC API.

    API version history:

    * 1.0 - Initial version: register_service, report_state,
            service_get_all, service_update, service_delete,
            get_min_version, get_max_version.
    * 1.1 - service_get_all takes down_for.
    * 1.2 - service_purge.
    * 1.3 - service_update and service_delete take the service's uuid,
            or (service_delete) its integer id, instead of host and
            binary.
    * 1.4 - get_service_stats.
    * 1.5 - register_service takes sent_at, the sender's clock.
    * 1.6 - register_service is also served on registrations_topic(topic)
            (the same arguments and answer).

    Every message is sent at the oldest version that carries it: 1.0
    unless it uses what a later version added, and then only once
    ``can_send_version`` says the cap allows it (``pinning``). So a
    conductor one release older understands everything this client sends
    it, and a pinned client never sends what the pin forbids.

    report_state is cast to ``reports_topic(topic)``, get_min_version
    and get_max_version are called on ``versions_topic(topic)``, and
    register_service, where the cap allows 1.6, on
    ``registrations_topic(topic)``. Conductors consume them all besides
    ``topic``, where they still serve those methods to clients that send
    them there: upgrade conductors before their clients.
    """

    # Keep in sync with manager.RPC_API_VERSION and the newest entry of
    # version.SERVICE_VERSION_HISTORY (a unit test checks).
    RPC_API_VERSION = '1.6'
    # What the messages of 1.0 are sent at, whatever the cap.
    BASE_VERSION = '1.0'

    def __init__(self, topic=None, timeout=None):
        self.topic = topic or CONF.conductor.topic
        self.timeout = timeout or CONF.conductor.call_timeout
        (self.client, self.reports_client, self.versions_client,
         self.registrations_client) = [
            rpc.get_client(messaging.Target(topic=name,
                                            version=self.BASE_VERSION))
            for name in (self.topic, reports_topic(self.topic),
                         versions_topic(self.topic),
                         registrations_topic(self.topic))]
        self.versions = versioncache.VersionCache(self)
        self.version_cap = pinning.VersionCap(
            lambda: self.versions.min_version(admin_context(),
                                              pinning.CONDUCTOR_BINARY))

    def _prepare(self, retry, rpc_client=None, rpc_version=None,
                 transport_options=None):
        """The one place every message to the conductor is built.

        ``retry`` bounds how often the driver reconnects to the broker
        before giving up, so a missing broker is reported instead of
        hanging the caller.
        """
        return (rpc_client or self.client).prepare(
            timeout=self.timeout, retry=retry,
            version=rpc_version or self.BASE_VERSION,
            transport_options=transport_options)

    def _call(self, ctxt, method, rpc_client=None, rpc_version=None,
              transport_options=None, read=False, **kwargs):
        """Call ``method``. A conductor that cannot reach its database
        refuses at once, having done nothing, while another conductor may
        well answer: such a refusal is asked again, up to
        UNAVAILABLE_RETRIES times, and raised if every conductor that
        answered refused. A ``read`` (a call that changes nothing) that
        gets no answer in time is asked once more if a conductor still
        consumes its queue: the one that took it may have lost the broker,
        or died, with it in hand."""
        refusals = timeouts = 0
        while True:
            try:
                return self._call_once(ctxt, method, rpc_client, rpc_version,
                                       transport_options, **kwargs)
            except exception.DatabaseUnavailable:
                refusals += 1
                if refusals > UNAVAILABLE_RETRIES:
                    raise
            except messaging.MessagingTimeout as exc:
                timeouts += 1
                queue = (rpc_client or self.client).target.topic
                if not read or timeouts > 1 or not rpc.queue_consumers(queue):
                    raise exception.ConductorUnavailable(
                        topic=self.topic, reason=exception.first_line(exc))

    def _call_once(self, ctxt, method, rpc_client, rpc_version,
                   transport_options, **kwargs):
        try:
            rpc.ensure_broker_reachable()
            return self._prepare(retry=1, rpc_client=rpc_client,
                                 rpc_version=rpc_version,
                                 transport_options=transport_options).call(
                ctxt, method, **kwargs)
        except (OSError, messaging.MessageDeliveryFailure) as exc:
            raise exception.ConductorUnavailable(
                topic=self.topic, reason=exception.first_line(exc))
        except messaging.RemoteError as exc:
            if exc.exc_type == 'UnsupportedVersion':
                raise exception.ConductorTooOld(message=(
                    'A conductor refused %s at RPC version %s as too new '
                    'for it: set [upgrade_levels] conductor = auto, or pin '
                    'the release of the oldest conductor, until every '
                    'conductor is upgraded.' % (method, rpc_version)))
            raise exception.ConductorError(
                method=method, reason='%s: %s' % (exc.exc_type, exc.value))

    def _can_send(self, version, cap):
        """True if ``cap`` (``version_cap.get()``) allows ``version``."""
        return self.client.prepare(version_cap=cap).can_send_version(
            version)

    def _require(self, version, action):
        """Raise ConductorTooOld unless the cap allows ``version``."""
        cap = self.version_cap.get()
        if not self._can_send(version, cap):
            raise exception.ConductorTooOld(
                action=action, needed=version, cap=cap,
                level=self.version_cap.level)

    def register_service(self, ctxt, report):
        """Register on start; see ConductorManager.register_service.

        Where the cap allows 1.6 it is sent to the registrations topic.
        Else, or if no queue takes it there (without a cap, conductors
        older than 1.6 declare none: RabbitMQ returns the call at once),
        to the conductor topic. Where the cap allows 1.5 the call says
        this host's clock, for the conductor to measure the skew. Without
        a cap, a conductor older than that refuses it: registering is what
        every service must be able to do, so it is asked again at 1.0,
        without the clock.
        """
        cap = self.version_cap.get()
        if self._can_send('1.6', cap):
            try:
                return self._call(
                    ctxt, 'register_service',
                    rpc_client=self.registrations_client, rpc_version='1.5',
                    transport_options=messaging.TransportOptions(
                        at_least_once=True),
                    sent_at=timeutils.utcnow().isoformat(), **report)
            except messaging.MessageUndeliverable:
                pass
        if self._can_send('1.5', cap):
            try:
                return self._call(ctxt, 'register_service',
                                  rpc_version='1.5',
                                  sent_at=timeutils.utcnow().isoformat(),
                                  **report)
            except exception.ConductorTooOld:
                pass
        return self._call(ctxt, 'register_service', **report)

    def report_state(self, ctxt, report):
        """Cast a heartbeat. Raises ConductorUnavailable if no broker of
        transport_url takes it (each is tried once: oslo.messaging moves
        on to the next one with each retry); a stopped conductor finds it
        queued on return."""
        try:
            self._prepare(retry=rpc.broker_count() - 1,
                          rpc_client=self.reports_client).cast(
                ctxt, 'report_state', **report)
        except (messaging.MessageDeliveryFailure,
                kombu.exceptions.OperationalError) as exc:
            raise exception.ConductorUnavailable(
                topic=self.topic, reason=exception.first_line(exc))

    def service_get_all(self, ctxt, host=None, binary=None, down_for=None):
        """Services with their state; with ``down_for`` (seconds), only
        those down for at least that long (1.1)."""
        if down_for is None:
            return self._call(ctxt, 'service_get_all', read=True,
                              host=host, binary=binary)
        self._require('1.1', 'list services by how long they are down')
        return self._call(ctxt, 'service_get_all', rpc_version='1.1',
                          read=True, host=host, binary=binary,
                          down_for=down_for)

    def service_purge(self, ctxt, down_for, dry_run=False):
        """Delete (``dry_run``: only list) the services down for at least
        ``down_for`` seconds; returns them (1.2)."""
        self._require('1.2', 'purge services')
        return self._call(ctxt, 'service_purge', rpc_version='1.2',
                          down_for=down_for, dry_run=dry_run)

    def service_update(self, ctxt, host, binary, values):
        return self._call(ctxt, 'service_update', host=host, binary=binary,
                          values=values)

    def service_update_by_uuid(self, ctxt, uuid, values):
        """service_update of the service with this uuid (1.3)."""
        self._require('1.3', 'update a service by its uuid')
        return self._call(ctxt, 'service_update', rpc_version='1.3',
                          uuid=uuid, values=values)

    def service_delete(self, ctxt, host, binary):
        return self._call(ctxt, 'service_delete', host=host, binary=binary)

    def service_delete_by_id(self, ctxt, uuid=None, service_id=None):
        """service_delete of the service with this uuid or integer id
        (1.3)."""
        self._require('1.3', 'delete a service by its id')
        return self._call(ctxt, 'service_delete', rpc_version='1.3',
                          uuid=uuid, service_id=service_id)

    def get_service_stats(self, ctxt):
        """Counts per binary and state, reports recorded, report lag
        (1.4); see ConductorManager.get_service_stats."""
        self._require('1.4', 'read the service statistics')
        return self._call(ctxt, 'get_service_stats', rpc_version='1.4',
                          read=True)

    def get_min_versions(self, ctxt, binaries):
        """Map each binary to its lowest running version (None if none)."""
        return self._call(ctxt, 'get_min_version',
                          rpc_client=self.versions_client, read=True,
                          binaries=list(binaries))

    def get_max_versions(self, ctxt, binaries):
        """Map each binary to its highest running version (None if none)."""
        return self._call(ctxt, 'get_max_version',
                          rpc_client=self.versions_client, read=True,
                          binaries=list(binaries))

    def get_min_version(self, ctxt, binary):
        """Lowest version of ``binary`` in the deployment, 0 if none runs.

        0 follows Nova's convention for "no such service yet".
        """
        return self.get_min_versions(ctxt, [binary])[binary] or 0

    def get_max_version(self, ctxt, binary):
        """Highest version of ``binary``, 0 if none runs."""
        return self.get_max_versions(ctxt, [binary])[binary] or 0


def admin_context():
    return oslo_context.get_admin_context()
