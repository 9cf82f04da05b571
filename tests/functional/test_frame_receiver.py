"""FrameReceiver against the real RabbitMQ: what it reads, what it puts at
the end of the queue, and closing its connection with deliveries in
flight (py-amqp reads those itself while it closes)."""

import time
import uuid

import kombu
import pytest

from sgconductor.conductor import deliveries
from tests.functional import deployment as sg_deployment

MESSAGES = 500
PREFETCH = 100


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


def test_a_mark_goes_to_the_end_of_the_queue(queue):
    publish(queue, 3)
    with broker_connection() as connection:
        connection.ensure_connection(max_retries=0)
        receiver = deliveries.FrameReceiver(connection, queue, PREFETCH)
        receiver.mark({'x-test-mark': 'after the three'})
        received = []
        while len(received) < 4:
            received.extend(receiver.receive(5, PREFETCH))
        receiver.settle(received)
    assert [d.body for d in received] == [
        b'message 0', b'message 1', b'message 2', b'']
    assert received[-1].headers == {'x-test-mark': 'after the three'}
