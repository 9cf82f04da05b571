# SPDX-License-Identifier: Apache-2.0
"""FrameReceiver and marks against the real RabbitMQ: what it reads, what
a marker puts at the end of the queue, and closing its connection with
deliveries in flight (py-amqp reads those itself while it closes)."""

import re
import time
import uuid

import kombu
import pytest

from sgconductor.conductor import deliveries
from sgconductor.conductor import marks
from tests.functional import deployment as sg_deployment

MESSAGES = 500
PREFETCH = 100
# A method frame (type 1, any channel and size) of Basic.Publish (60, 40).
BASIC_PUBLISH = re.compile(rb'\x01[\s\S]{6}\x00\x3c\x00\x28')


def broker_connection():
    """A kombu connection to the functional tests' RabbitMQ."""
    return kombu.Connection(
        'amqp' + sg_deployment.TRANSPORT_URL[len('rabbit'):])


@pytest.fixture
def queue(broker):
    name = 'sgfunc-receiver-' + uuid.uuid4().hex
    queue = kombu.Queue(name, kombu.Exchange(name, 'direct'),
                        routing_key=name, auto_delete=False)
    with broker_connection() as connection:
        bound = queue(connection.channel())
        bound.declare()
        yield queue
        bound.delete()


def publish(queue, count):
    with broker_connection() as connection:
        producer = kombu.Producer(connection.channel(), queue.exchange)
        for i in range(count):
            producer.publish(b'message %d' % i, routing_key=queue.routing_key)


def depth(queue):
    with broker_connection() as connection:
        return queue(connection.channel()).queue_declare(
            passive=True).message_count


def test_closing_with_deliveries_in_flight_requeues_them(queue):
    publish(queue, MESSAGES)
    connection = broker_connection()
    connection.ensure_connection(max_retries=0)
    receiver = deliveries.FrameReceiver(connection, queue, PREFETCH)
    batch = receiver.receive(5, PREFETCH)
    assert [d.body for d in batch[:2]] == [b'message 0', b'message 1']
    receiver.settle(batch)
    # Let the broker push the next PREFETCH: py-amqp reads them while it
    # closes, and must neither fail nor acknowledge them.
    time.sleep(0.5)
    connection.release()
    assert depth(queue) == MESSAGES - len(batch)


def receive_all(receiver, count, timeout=10):
    received = []
    deadline = time.monotonic() + timeout
    while len(received) < count:
        assert time.monotonic() < deadline, 'received only %r' % received
        received.extend(receiver.receive(1, PREFETCH))
    receiver.settle(received)
    return received


def test_a_mark_goes_to_the_end_of_the_queue_over_its_own_connection(
        queue):
    """The consuming connection never publishes (RabbitMQ would stop
    reading it, acknowledgements included, under a resource alarm): the
    mark comes over the marker's own connection to the same broker, after
    what was queued; a marker whose connection broke opens another, and
    says that marks can be put again."""
    publish(queue, 3)
    told = []
    marker = marks.Marker(queue.name, lambda: told.append('suspended'),
                          lambda: told.append('resumed'))
    with broker_connection() as connection:
        connection.ensure_connection(max_retries=0)
        receiver = deliveries.FrameReceiver(connection, queue, PREFETCH)
        # Every byte py-amqp writes on the consuming connection.
        written = []
        transport = connection.connection.transport
        write = transport._write
        transport._write = lambda data: (written.append(bytes(data)),
                                         write(data))[1]
        marker.follow(connection)
        marker.put_if_due()
        received = receive_all(receiver, 4)
        assert [d.body for d in received] == [
            b'message 0', b'message 1', b'message 2', b'']
        assert marks.MARK_HEADER in received[-1].headers
        assert written, 'the acknowledgement went out on this connection'
        assert not any(BASIC_PUBLISH.search(data) for data in written)

        first = marker._connection
        first.connection.sock.close()
        marker._next = 0
        marker.put_if_due()         # fails: the connection is gone
        marker._next = 0
        marker.put_if_due()         # a new connection, and a mark
        assert marker._connection not in (None, first)
        assert told == ['suspended', 'resumed']
        (mark,) = receive_all(receiver, 1)
        assert marks.MARK_HEADER in mark.headers
    marker.close()
