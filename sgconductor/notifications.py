# SPDX-License-Identifier: Apache-2.0
"""Versioned notifications of changes to services, in Nova's format.

The conductor emits ``service.create`` (a service registered for the
first time), ``service.update`` (an operator disabled, enabled, forced
down or up) and ``service.delete`` (deleted or purged), each with Nova's
``ServiceStatusPayload``, and ``service.state`` (the service went up or
down, ``statewatch.py``) with a ``ServiceStatePayload``: the same fields
plus ``state``, ``previous_state`` and ``reason``, at priority WARN when
the service went down. They go through an oslo.messaging Notifier:
nothing is sent unless ``[oslo_messaging_notifications] driver`` is set
(e.g. ``messagingv2``), to its ``topics`` on its ``transport_url`` (by
default the RPC one).

Notifications are sent from a thread of their own, so a registration
storm or an unreachable broker never slows down a write: at most
QUEUE_SIZE wait, and beyond that they are dropped and counted, with one
warning per overflow.
"""

import queue
import time

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_log import log as logging

from sgconductor import rpc
from sgconductor import threads

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

PUBLISHER = 'sgconductor-conductor'
# Nova's ServiceStatusPayload, whose fields and version these follow.
PAYLOAD_NAME = 'ServiceStatusPayload'
PAYLOAD_NAMESPACE = 'nova'
PAYLOAD_VERSION = '1.1'
# service.state's payload: Nova has none (it lists up/down notifications
# as future work), so it is ours.
STATE_PAYLOAD_NAME = 'ServiceStatePayload'
STATE_PAYLOAD_NAMESPACE = 'sgconductor'
STATE_PAYLOAD_VERSION = '1.0'
# Notifications waiting to be sent, at most.
QUEUE_SIZE = 10000
# Connection attempts per notification: the thread must not block on an
# unreachable broker while the queue fills.
SEND_RETRY = 1
# Seconds a stopping conductor spends sending what is still queued.
STOP_TIMEOUT = 5


def _isotime(value):
    return value.isoformat() if value else None


def payload(service):
    """Nova's versioned payload of ``service`` (a row of the services
    table, with the model's attributes)."""
    return {
        'nova_object.name': PAYLOAD_NAME,
        'nova_object.namespace': PAYLOAD_NAMESPACE,
        'nova_object.version': PAYLOAD_VERSION,
        'nova_object.data': {
            'uuid': service.uuid,
            'host': service.host,
            'binary': service.binary,
            'topic': service.topic,
            'report_count': service.report_count,
            'disabled': service.disabled,
            'disabled_reason': service.disabled_reason,
            'availability_zone': service.availability_zone,
            'last_seen_up': _isotime(service.last_seen_up),
            'forced_down': service.forced_down,
            'version': service.version,
        },
    }


def state_payload(service, previous, reason):
    """service.state's payload: Nova's fields, and the change."""
    body = payload(service)
    body['nova_object.name'] = STATE_PAYLOAD_NAME
    body['nova_object.namespace'] = STATE_PAYLOAD_NAMESPACE
    body['nova_object.version'] = STATE_PAYLOAD_VERSION
    body['nova_object.data'].update(state=service.notified_state,
                                    previous_state=previous, reason=reason)
    return body


class ServiceNotifier:
    """Emits service notifications for one conductor process."""

    def __init__(self):
        self._queue = queue.Queue(QUEUE_SIZE)
        self.dropped = 0
        self._overflowing = False
        self._notifier = None
        self._thread = threads.Loop('sgconductor-notifier', self._run)

    @property
    def enabled(self):
        return self._notifier is not None

    def start(self):
        # No driver at all sends nothing, but is "enabled" to oslo.
        if not CONF.oslo_messaging_notifications.driver:
            return
        notifier = messaging.Notifier(
            messaging.get_notification_transport(CONF),
            publisher_id='%s:%s' % (PUBLISHER, CONF.host),
            serializer=rpc.RequestContextSerializer(), retry=SEND_RETRY)
        if not notifier.is_enabled():
            return
        self._notifier = notifier
        self._thread.start()

    def stop(self):
        """Send what is queued (for STOP_TIMEOUT s at most), then stop."""
        if not self._thread.stop():
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                return
            self._send(*event)
        LOG.warning('Stopped with %d notifications not sent.',
                    self._queue.qsize())

    def created(self, service):
        self._emit('service.create', payload(service))

    def updated(self, service):
        self._emit('service.update', payload(service))

    def deleted(self, service):
        self._emit('service.delete', payload(service))

    def state_changed(self, service, previous, reason):
        """``service`` (whose notified_state is the new state) went from
        ``previous`` to that state, for ``reason`` (None when up)."""
        self._emit('service.state', state_payload(service, previous, reason),
                   'info' if service.notified_state == 'up' else 'warn')

    def _emit(self, event_type, body, priority='info'):
        if self._notifier is None:
            return
        try:
            self._queue.put_nowait((event_type, body, priority))
        except queue.Full:
            self.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                LOG.warning('More than %d notifications wait to be sent; '
                            'dropping new ones until there is room.',
                            QUEUE_SIZE)
            return
        self._overflowing = False

    def _run(self):
        while not self._thread.stopping.is_set():
            try:
                event = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self._send(*event)

    def _send(self, event_type, body, priority):
        # oslo.messaging logs a notification it could not send; anything
        # else must not end the thread either.
        try:
            getattr(self._notifier, priority)(
                oslo_context.get_admin_context(), event_type, body)
        except Exception:
            LOG.exception('Could not send %s.', event_type)
