# SPDX-License-Identifier: Apache-2.0
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

Any other message (a cast, another method, a namespace, a version or
arguments the fast path does not take) is handled by oslo.messaging's
own dispatcher over the same endpoint (``dispatch.py``): a call gets
what a stock RPC server would answer, a cast is run and answers nothing.
What cannot be read as an oslo.messaging message is dropped. Both are
counted and logged at a bounded rate (``rejected.py``). A call server
that cannot reach the broker reconnects by itself (``brokerloop``); one
whose process cannot write to the database lets go of its queue while
another process takes from it (``gate``).
"""

import collections

from oslo_log import log as logging

from sgconductor import rpc
from sgconductor.conductor import brokerloop
from sgconductor.conductor import deliveries
from sgconductor.conductor import dispatch
from sgconductor.conductor import envelope
from sgconductor.conductor import rejected

LOG = logging.getLogger(__name__)

# Seconds a wait for the next call lasts: how quickly the server notices
# it was asked to stop.
POLL_INTERVAL = 0.2


class CallServer:
    """Answers the calls of ``METHODS`` of ``manager`` (the endpoint of
    the conductor topic) waiting on ``topic``'s queue, at most
    ``PREFETCH`` at once."""

    NAME = 'call server'
    METHODS = ()
    PREFETCH = 10

    def __init__(self, manager, topic, declare=(), gate=None):
        """``declare``: topics whose queues are declared as well, each
        time the server connects to a broker. ``gate``: a ``gate.Gate``
        that says when not to take calls (None: always take them)."""
        self.manager = manager
        self.endpoint = dispatch.Endpoint(manager, self.METHODS, topic)
        self.topic = topic
        self.declare = declare
        self.gate = gate
        # answered, failed (answered with an exception), poison,
        # dispatched (dispatch.py)
        self.counts = collections.Counter()
        self._loop = brokerloop.BrokerLoop(
            self.NAME, self._open, self._serve,
            gate=gate and (lambda: gate.may_consume(consuming=False)))

    def usual(self, call):
        """True if ``answer`` takes ``call``, one of METHODS with a dict
        of arguments (``dispatch.Endpoint.usual``): the arguments the
        method takes, for one."""
        return True

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
        return connection, receiver, connection.channel()

    def _serve(self, opened):
        connection, receiver, channel = opened
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
                    call = self._read(channel, delivery)
                except brokerloop.lost_errors(connection):
                    raise
                except Exception:
                    # A bug: it costs this message, not the batch.
                    LOG.exception('Dropped a message from queue %s that '
                                  'could not be handled.', self.topic)
                    self.counts['poison'] += 1
                    continue
                if call is not None:
                    calls.append(call)
            if calls:
                self._reply_all(connection, channel, calls)
            connection.heartbeat_check()

    def _reply_all(self, connection, channel, calls):
        answered = 0
        try:
            for body in self.answer(calls):
                envelope.publish(channel, calls[answered]['_reply_q'], body)
                answered += 1
        except brokerloop.lost_errors(connection):
            raise
        except Exception as exc:
            # A bug: every caller not answered yet hears of it, and so
            # does the log.
            LOG.exception('Could not answer %d calls from queue %s.',
                          len(calls) - answered, self.topic)
            for call in calls[answered:]:
                envelope.publish(channel, call['_reply_q'],
                                 self.replied(call, failure=exc))

    def _read(self, channel, delivery):
        """The call a delivery holds if ``answer`` takes it, or None: it
        was dropped, or handled here as a stock server would (and, if a
        call, answered)."""
        try:
            message = envelope.read(delivery.body, delivery.headers)
        except envelope.Poison as exc:
            self.counts['poison'] += 1
            rejected.dropped(self.topic, exc.reason, exc)
            return None
        reply_q = dispatch.reply_to(message)
        if reply_q and self.endpoint.usual(message) and self.usual(message):
            return message
        self.counts['dispatched'] += 1
        result, failure = self.endpoint.handle(message,
                                               answered=bool(reply_q))
        if reply_q:
            envelope.publish(channel, reply_q, self.replied(
                message, result=result, failure=failure))
        return None
