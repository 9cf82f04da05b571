"""Calls answered straight off a queue of their own, a batch at a time.

Through oslo.messaging's RPC server a call crosses a listener thread, a
worker thread, and a publisher confirm (one more broker round trip) before
its reply leaves, one call at a time. For the calls that matter most under
load (``versionserver``: the API side's version bounds;
``registrationserver``: a fleet starting at once) every conductor worker
instead consumes a queue of their own on one thread: it takes the calls
waiting there in one batch, acknowledges them, reads each
(``envelope.unpack``), answers them all (``CallServer.answer``), and
publishes each reply as oslo.messaging's server would. Clients are
ordinary oslo.messaging RPC clients.

A message that is not such a call is logged and dropped; one that is a
call, but a bad one, gets its exception back. A call server that cannot
reach the broker reconnects by itself (``brokerloop``); one whose process
cannot write to the database lets go of its queue while another process
takes from it (``gate``).
"""

import collections

import kombu
from oslo_log import log as logging

from sgconductor import exception
from sgconductor import rpc
from sgconductor.conductor import brokerloop
from sgconductor.conductor import deliveries
from sgconductor.conductor import envelope

LOG = logging.getLogger(__name__)

# Seconds a wait for the next call lasts: how quickly the server notices
# it was asked to stop.
POLL_INTERVAL = 0.2


class CallServer:
    """Answers the calls of ``METHODS`` waiting on ``topic``'s queue, at
    most ``PREFETCH`` at once."""

    NAME = 'call server'
    METHODS = ()
    PREFETCH = 10

    def __init__(self, manager, topic, api_version, declare=(),
                 gate=None):
        """``declare``: topics whose queues are declared as well, each
        time the server connects to a broker. ``gate``: a ``gate.Gate``
        that says when not to take calls (None: always take them)."""
        self.manager = manager
        self.topic = topic
        self.api_version = api_version
        self.declare = declare
        self.gate = gate
        # answered, failed (answered with an exception), poison
        self.counts = collections.Counter()
        self._loop = brokerloop.BrokerLoop(
            self.NAME, self._open, self._serve,
            gate=gate and (lambda: gate.may_consume(consuming=False)))

    def answer(self, calls):
        """The reply body of each of ``calls`` (oslo.messaging messages,
        with valid reply queues and ids), in order: an iterable, each
        reply published as soon as it is produced."""
        raise NotImplementedError

    def start(self, timeout=10):
        """Start; returns once the queue is declared (or after ``timeout``
        s if the broker cannot be reached: the server keeps trying)."""
        self._loop.start(timeout)

    def stop(self):
        """Answer the calls in hand, then disconnect."""
        if self._loop.stop():
            LOG.info('%(name)s of %(topic)s stopped: %(counts)s',
                     {'name': self.NAME.capitalize(), 'topic': self.topic,
                      'counts': dict(self.counts)})

    def replied(self, call, result=None, failure=None):
        """The reply to ``call``: ``result``, or the exception
        ``failure``; counted."""
        self.counts['answered' if failure is None else 'failed'] += 1
        return envelope.reply(call['_msg_id'], result=result,
                              failure=failure)

    def _open(self, connection):
        # kombu's consumer even on RabbitMQ: the FrameReceiver reads the
        # socket itself, and the replies go out on this connection. A
        # connection that publishes stalls under a broker's resource
        # alarm, acknowledgements included; the replies could not leave
        # then anyway.
        channel = connection.default_channel
        for topic in self.declare:
            rpc.topic_queue(topic)(channel).declare()
        receiver = deliveries.KombuReceiver(
            connection, rpc.topic_queue(self.topic), self.PREFETCH)
        return connection, receiver, kombu.Producer(connection.channel())

    def _serve(self, opened):
        connection, receiver, producer = opened
        while not self._loop.stopping.is_set():
            if self.gate and not self.gate.may_consume(consuming=True):
                return  # the connection goes, and what it prefetched
            batch = receiver.receive(POLL_INTERVAL, self.PREFETCH)
            if batch:
                # Before answering, as oslo.messaging's server does: a
                # message that breaks the answer must not come back. A
                # call lost with this process is asked again by its
                # caller once it timed out.
                receiver.settle(batch)
            calls = []
            for delivery in batch:
                try:
                    call = self._read(producer, delivery)
                except brokerloop.lost_errors(connection):
                    raise
                except Exception:
                    LOG.exception('Dropped a message from queue %s that '
                                  'could not be read.', self.topic)
                    self.counts['poison'] += 1
                    continue
                if call is not None:
                    calls.append(call)
            if calls:
                self._reply_all(connection, producer, calls)
            connection.heartbeat_check()

    def _reply_all(self, connection, producer, calls):
        answered = 0
        try:
            for body in self.answer(calls):
                _publish(producer, calls[answered]['_reply_q'], body)
                answered += 1
        except brokerloop.lost_errors(connection):
            raise
        except Exception as exc:
            # A bug: every caller not answered yet hears of it, and so
            # does the log.
            LOG.exception('Could not answer %d calls from queue %s.',
                          len(calls) - answered, self.topic)
            for call in calls[answered:]:
                _publish(producer, call['_reply_q'],
                         self.replied(call, failure=exc))

    def _read(self, producer, delivery):
        """The call a delivery holds, or None if it was dropped (and, if
        it was a call, its caller told why)."""
        try:
            call = envelope.unpack(delivery.body, delivery.headers,
                                   self.api_version, self.METHODS)
        except envelope.Poison as exc:
            envelope.drop(self.counts, self.topic, exc)
            call, failure = exc.call or {}, exception.Invalid(
                reason=str(exc))
        else:
            failure = None
        reply_q, msg_id = call.get('_reply_q'), call.get('_msg_id')
        if not (_is_name(reply_q) and _is_name(msg_id)):
            if failure is None:
                envelope.drop(self.counts, self.topic,
                              '%s without a usable reply queue and id'
                              % call['method'])
            return None
        if failure is not None:
            _publish(producer, reply_q,
                     envelope.reply(msg_id, failure=failure))
            return None
        return call


def _publish(producer, reply_q, body):
    """Publish through the producer's channel, without kombu's Producer
    (declarations, serializers, compression: none of which a reply needs),
    which cost as much again as the publish itself."""
    channel = producer.channel
    channel.basic_publish(
        channel.prepare_message(body, content_type='application/json',
                                content_encoding='utf-8',
                                properties={'delivery_mode': 1}),
        exchange='', routing_key=reply_q)


def _is_name(value):
    """True for what a reply queue's name or a call's id can be (an AMQP
    short string); a cast has neither."""
    return (isinstance(value, str)
            and 0 < len(value.encode('utf-8', 'surrogatepass')) <= 255)
