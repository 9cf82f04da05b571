# SPDX-License-Identifier: Apache-2.0
"""FrameParser against frames written by py-amqp's own frame writer."""

import types
import zlib

import amqp
import pytest
from amqp import method_framing
from amqp import serialization
from amqp import spec

from sgconductor.conductor import deliveries

CHANNEL = 1


class Wire:
    """The bytes py-amqp writes for the frames a broker would send."""

    def __init__(self, frame_max=131072):
        self.data = bytearray()
        connection = types.SimpleNamespace(frame_max=frame_max, bytes_sent=0)
        self._write = method_framing.frame_writer(
            connection, types.SimpleNamespace(write=self.data.extend))

    def deliver(self, tag, body, redelivered=False, channel=CHANNEL,
                **properties):
        args = serialization.dumps(
            'sLbss', ['ctag-1', tag, redelivered, 'sgconductor', 'topic'])
        self._write(1, channel, spec.Basic.Deliver, args,
                    amqp.Message(body, **properties))
        return self

    def heartbeat(self):
        self._write(8, 0, None, None, None)
        return self

    def method(self, method_sig, argsig='', args=(), channel=CHANNEL):
        self._write(1, channel, method_sig,
                    serialization.dumps(argsig, list(args)), None)
        return self


def feed_bytewise(parser, data):
    out = []
    for i in range(len(data)):
        out.extend(parser.feed(data[i:i + 1]))
    return out


def test_deliveries_come_out_whole_however_the_bytes_are_cut():
    wire = (Wire().deliver(1, b'{"a": 1}').heartbeat()
            .deliver(2, b'{"b": 2}', redelivered=True))
    expected = [deliveries.Delivery(1, b'{"a": 1}', False, {}),
                deliveries.Delivery(2, b'{"b": 2}', True, {})]
    assert deliveries.FrameParser(CHANNEL).feed(wire.data) == expected
    assert feed_bytewise(deliveries.FrameParser(CHANNEL),
                         bytes(wire.data)) == expected


def test_a_body_split_over_several_frames_is_joined():
    body = b'x' * 10000
    wire = Wire(frame_max=4096).deliver(7, body)
    (delivery,) = deliveries.FrameParser(CHANNEL).feed(wire.data)
    assert delivery.body == body


def test_an_empty_body_is_a_delivery():
    (delivery,) = deliveries.FrameParser(CHANNEL).feed(
        Wire().deliver(3, b'').data)
    assert delivery == deliveries.Delivery(3, b'', False, {})


def test_a_body_too_large_is_skipped_not_held():
    big = b'y' * (deliveries.MAX_BODY + 1)
    wire = Wire(frame_max=8192).deliver(4, big).deliver(5, b'{}')
    parser = deliveries.FrameParser(CHANNEL)
    assert parser.feed(wire.data) == [
        deliveries.Delivery(4, None, False, {}),
        deliveries.Delivery(5, b'{}', False, {})]


def test_application_headers_are_read():
    body = zlib.compress(b'{}')
    wire = Wire().deliver(6, body, content_type='application/json',
                          content_encoding='utf-8',
                          application_headers={'compression':
                                               'application/x-gzip'})
    (delivery,) = deliveries.FrameParser(CHANNEL).feed(wire.data)
    assert delivery.headers == {'compression': 'application/x-gzip'}


@pytest.mark.parametrize('wire', [
    Wire().method(spec.Channel.Close, 'BsBB', [404, 'NOT_FOUND', 60, 20]),
    Wire().method(spec.Basic.Cancel, 'sb', ['ctag-1', False]),
    Wire().method(spec.Connection.Close, 'BsBB', [320, 'FORCED', 0, 0],
                  channel=0),
    Wire().deliver(1, b'{}', channel=2),
], ids=['channel-close', 'cancel', 'connection-close', 'other-channel'])
def test_anything_but_a_delivery_ends_the_receiver(wire):
    with pytest.raises(deliveries.BrokerClosed):
        deliveries.FrameParser(CHANNEL).feed(wire.data)


def test_a_corrupt_frame_end_ends_the_receiver():
    data = bytearray(Wire().deliver(1, b'{}').data)
    data[-1] = 0
    with pytest.raises(deliveries.BrokerClosed, match='malformed'):
        deliveries.FrameParser(CHANNEL).feed(data)
