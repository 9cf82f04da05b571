# SPDX-License-Identifier: Apache-2.0
"""Deliveries from a queue, taken in batches.

The heartbeat intake (``intake.py``) needs three things from the broker:
the next batch of messages, their bodies, and one acknowledgement for the
whole batch. Two receivers provide them:

``FrameReceiver``, for RabbitMQ, reads the consumer's socket itself.
py-amqp parses every frame in Python with two or three ``recv`` calls and
two socket timeout changes per frame, and dispatches it through its
channel machinery: about 100 us per message, which caps a conductor near
8,000 messages/s before it has done any work (profiled in
doc/scale.rst). A connection that only consumes one queue receives a
handful of frame kinds; this receiver reads the socket in large chunks
and cuts deliveries out of them directly. py-amqp still opens the
connection, declares the queue, starts the consumer and writes every
frame we send (acks, heartbeats). Anything other than a delivery or a
heartbeat (the broker closing the channel or the connection, cancelling
the consumer) ends the receiver with ``BrokerClosed``; the intake
reconnects, and the broker requeues whatever was not acknowledged.

``KombuReceiver`` drains any kombu transport through kombu's own
consumer: the intake's on anything but RabbitMQ (the in-memory transport
of the demo and unit tests), and the call servers' (``callserver.py``)
everywhere, since they also publish on their connection.
"""

import collections
import socket
import ssl
import struct
import time

import kombu
from amqp import serialization

Delivery = collections.namedtuple(
    'Delivery', ['tag', 'body', 'redelivered', 'headers'])
Delivery.__doc__ = """One message: ``body`` is None if it was too large to
read (``MAX_BODY`` bytes), ``headers`` the AMQP application headers."""

# A heartbeat is a few hundred bytes; anything this large is not one, and
# is skipped rather than held in memory.
MAX_BODY = 64 * 1024

# Bytes asked of the socket at once.
RECV_SIZE = 256 * 1024

FRAME_METHOD = 1
FRAME_HEADER = 2
FRAME_BODY = 3
FRAME_HEARTBEAT = 8
FRAME_END = 0xCE
BASIC_DELIVER = (60, 60)

_FRAME_HEAD = struct.Struct('>BHI')
_METHOD_ID = struct.Struct('>HH')
_BODY_SIZE = struct.Struct('>Q')
_PROPERTY_FLAGS = struct.Struct('>H')
_HAS_CONTENT_TYPE = 0x8000
_HAS_CONTENT_ENCODING = 0x4000
_HAS_HEADERS = 0x2000

# A read that finds nothing to read, with a zero timeout.
_NOTHING_YET = (BlockingIOError, ssl.SSLWantReadError, socket.timeout)


class BrokerClosed(Exception):
    """The broker ended the consumer or the connection (or broke the
    protocol): reconnect."""


def _shortstr(payload, offset):
    """Skip an AMQP short string; return the offset after it."""
    return offset + 1 + payload[offset]


def _headers(payload):
    """Application headers of a content header frame's payload, or {}.

    Most messages carry none (an empty table), which is checked without
    decoding the properties.
    """
    offset = 12  # class, weight, body size
    (flags,) = _PROPERTY_FLAGS.unpack_from(payload, offset)
    if not flags & _HAS_HEADERS:
        return {}
    offset += 2
    if flags & _HAS_CONTENT_TYPE:
        offset = _shortstr(payload, offset)
    if flags & _HAS_CONTENT_ENCODING:
        offset = _shortstr(payload, offset)
    if not any(payload[offset:offset + 4]):
        return {}
    properties, _ = serialization.decode_properties_basic(payload, 12)
    return properties.get('application_headers') or {}


class FrameParser:
    """Turns the bytes of one consuming channel into Deliveries.

    Fed with whatever the socket returned; keeps an incomplete frame, or an
    incomplete message, for the next feed.
    """

    def __init__(self, channel_id):
        self.channel_id = channel_id
        self._buffer = bytearray()
        self._message = None    # [tag, redelivered, size, headers, parts]
        self._received = 0      # body bytes of the current message

    def feed(self, data):
        """Parse ``data``; return the deliveries it completed."""
        buffer = self._buffer
        buffer += data
        deliveries = []
        offset = 0
        with memoryview(buffer) as view:
            while len(buffer) - offset >= 8:
                kind, channel, size = _FRAME_HEAD.unpack_from(buffer, offset)
                end = offset + 7 + size
                if len(buffer) <= end:
                    break
                if buffer[end] != FRAME_END:
                    raise BrokerClosed('malformed frame from the broker')
                payload = bytes(view[offset + 7:end])
                offset = end + 1
                if kind == FRAME_HEARTBEAT:
                    continue
                if channel != self.channel_id:
                    raise BrokerClosed('unexpected frame on channel %d'
                                       % channel)
                delivery = self._frame(kind, payload)
                if delivery is not None:
                    deliveries.append(delivery)
        del buffer[:offset]
        return deliveries

    def _frame(self, kind, payload):
        if kind == FRAME_METHOD:
            return self._method(payload)
        if self._message is None:
            raise BrokerClosed('content frame outside a delivery')
        if kind == FRAME_HEADER:
            (size,) = _BODY_SIZE.unpack_from(payload, 4)
            self._message[2] = size
            self._message[3] = _headers(payload)
        elif kind == FRAME_BODY:
            self._received += len(payload)
            if self._message[2] <= MAX_BODY:
                self._message[4].append(payload)
        else:
            raise BrokerClosed('unexpected frame type %d' % kind)
        return self._complete()

    def _method(self, payload):
        if self._message is not None:
            raise BrokerClosed('method frame inside a delivery')
        method = _METHOD_ID.unpack_from(payload)
        if method != BASIC_DELIVER:
            # Channel.Close, Connection.Close, Basic.Cancel, ...
            raise BrokerClosed('the broker sent method %d.%d' % method)
        offset = _shortstr(payload, 4)          # consumer tag
        (tag,) = _BODY_SIZE.unpack_from(payload, offset)
        redelivered = bool(payload[offset + 8] & 1)
        self._message = [tag, redelivered, None, None, []]
        self._received = 0
        return None

    def _complete(self):
        tag, redelivered, size, headers, parts = self._message
        if size is None or self._received < size:
            return None
        self._message = None
        body = b''.join(parts) if size <= MAX_BODY else None
        return Delivery(tag, body, redelivered, headers)


def _requeued_on_close(message):
    """A delivery py-amqp read while closing: left unacknowledged."""


class FrameReceiver:
    """Batches of deliveries read straight from a py-amqp connection."""

    def __init__(self, connection, queue, prefetch):
        """``connection``: a connected kombu Connection (pyamqp);
        ``queue``: a kombu Queue, declared here."""
        self._amqp = connection.connection
        self._channel = connection.channel()
        self._channel.basic_qos(0, prefetch, False)
        queue(self._channel).declare()
        # Deliveries are read by the parser; py-amqp only sees those that
        # arrive while it closes the connection, which the broker requeues.
        self._channel.basic_consume(queue.name, no_ack=False,
                                    callback=_requeued_on_close)
        transport = self._amqp.transport
        self._socket = transport.sock
        self._parser = FrameParser(self._channel.channel_id)
        # Whatever py-amqp read ahead belongs to us now.
        self._pending = self._parser.feed(
            getattr(transport, '_read_buffer', b''))
        # py-amqp's negotiated heartbeat (0: none). We send ours; any byte
        # from the broker proves it alive.
        self._heartbeat = self._amqp.heartbeat or 0
        self._last_sent = self._last_heard = time.monotonic()

    def receive(self, timeout, limit):
        """Up to ``limit`` deliveries: waits up to ``timeout`` s for the
        first, then takes only what has already arrived."""
        deliveries, self._pending = self._pending, []
        while len(deliveries) < limit:
            data = self._recv(None if deliveries else timeout)
            if not data:
                break
            deliveries.extend(self._parser.feed(data))
        self._keep_alive()
        return deliveries

    def _recv(self, wait):
        """Bytes from the socket, or b'' if none came within ``wait`` s
        (None: only what is there already)."""
        self._socket.settimeout(wait or 0.0)
        try:
            data = self._socket.recv(RECV_SIZE)
        except _NOTHING_YET:
            return b''
        except OSError as exc:
            raise BrokerClosed('connection lost: %s' % exc) from exc
        if not data:
            raise BrokerClosed('the broker closed the connection')
        self._last_heard = time.monotonic()
        return data

    def _keep_alive(self):
        if not self._heartbeat:
            return
        now = time.monotonic()
        if now - self._last_heard > 2 * self._heartbeat:
            raise BrokerClosed('no heartbeat from the broker for %d s'
                               % (now - self._last_heard))
        if now - self._last_sent > self._heartbeat / 2:
            self._amqp.send_heartbeat()
            self._last_sent = now

    def settle(self, deliveries):
        """Acknowledge ``deliveries`` (in the order received) at once."""
        self._channel.basic_ack(deliveries[-1].tag, multiple=True)


class KombuReceiver:
    """Batches of deliveries through kombu's consumer (any transport)."""

    def __init__(self, connection, queue, prefetch):
        self._connection = connection
        self._channel = connection.channel()
        self._channel.basic_qos(0, prefetch, False)
        self._received = []
        self._consumer = kombu.Consumer(
            self._channel, [queue], on_message=self._received.append)
        self._consumer.consume()

    def receive(self, timeout, limit):
        while len(self._received) < limit:
            try:
                self._connection.drain_events(
                    timeout=0 if self._received else timeout)
            except TimeoutError:
                break
        taken = self._received[:limit]
        del self._received[:limit]
        return [Delivery(message.delivery_tag,
                         message.body if len(message.body) <= MAX_BODY
                         else None,
                         message.delivery_info.get('redelivered', False),
                         message.headers or {})
                for message in taken]

    def settle(self, deliveries):
        # kombu's virtual transports ignore "multiple".
        for delivery in deliveries:
            self._channel.basic_ack(delivery.tag)


def open_receiver(connection, queue, prefetch):
    """The fastest receiver ``connection``'s transport allows."""
    if connection.transport.driver_type == 'amqp':
        return FrameReceiver(connection, queue, prefetch)
    return KombuReceiver(connection, queue, prefetch)
