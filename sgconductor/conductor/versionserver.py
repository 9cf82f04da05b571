"""get_min_version and get_max_version, answered on a queue of their own.

The API side of a cloud asks the deployment's minimum service version
before it decides which RPC version to speak, so these calls are the
conductor's most frequent and the most sensitive to delay. Through
oslo.messaging's RPC server a call crosses a listener thread, a worker
thread, and a publisher confirm (one more broker round trip) before its
reply leaves. Measured under 1,000 heartbeats a second on two cores, a
stock server answered a bare ping in p99 5.7 ms, a single consumer
thread that replies at once in 3.9 ms (doc/scale.rst).

So ConductorAPI sends these two calls to ``rpcapi.versions_topic``, still
with an ordinary oslo.messaging RPC client, and every conductor worker
consumes that queue on one thread of its own: it reads the call
(``envelope.unpack``), runs the manager's own method (the same checks and
the same SQL as on the conductor topic), and publishes the reply. A call
the manager refuses gets its exception back, as from oslo.messaging's
server. A message that is not such a call is logged and dropped. A
version server that cannot reach the broker reconnects by itself
(``brokerloop``).
"""

import collections

import kombu
import oslo_messaging as messaging
from oslo_log import log as logging

from sgconductor import exception
from sgconductor import rpc
from sgconductor.conductor import brokerloop
from sgconductor.conductor import deliveries
from sgconductor.conductor import envelope

LOG = logging.getLogger(__name__)

METHODS = ('get_min_version', 'get_max_version')
# The arguments both take.
ARGUMENTS = {'binaries'}
# Seconds a wait for the next call lasts: how quickly the server notices
# it was asked to stop.
POLL_INTERVAL = 0.2
# Calls taken from the broker at once.
PREFETCH = 10


class VersionServer:
    """Answers METHODS of ``manager`` from ``topic``'s queue."""

    def __init__(self, manager, topic, api_version):
        self.manager = manager
        self.topic = topic
        self.api_version = api_version
        # answered, failed (answered with an exception), poison
        self.counts = collections.Counter()
        self._loop = brokerloop.BrokerLoop('version server', self._open,
                                           self._serve)

    def start(self, timeout=10):
        """Start; returns once the queue is declared (or after ``timeout``
        s if the broker cannot be reached: the server keeps trying)."""
        self._loop.start(timeout)

    def stop(self):
        """Answer the calls in hand, then disconnect."""
        if self._loop.stop():
            LOG.info('Version server of %(topic)s stopped: %(counts)s',
                     {'topic': self.topic, 'counts': dict(self.counts)})

    def _open(self, connection):
        # kombu's consumer even on RabbitMQ: the FrameReceiver reads the
        # socket itself, and the replies go out on this connection. A
        # connection that publishes stalls under a broker's resource
        # alarm, acknowledgements included; the replies could not leave
        # then anyway, and this queue holds a handful of calls at most.
        receiver = deliveries.KombuReceiver(
            connection, rpc.topic_queue(self.topic), PREFETCH)
        return connection, receiver, kombu.Producer(connection.channel())

    def _serve(self, opened):
        connection, receiver, producer = opened
        while not self._loop.stopping.is_set():
            batch = receiver.receive(POLL_INTERVAL, PREFETCH)
            if batch:
                # Before answering, as oslo.messaging's server does: these
                # calls read only, and a message that breaks the answer
                # must not come back.
                receiver.settle(batch)
            for delivery in batch:
                try:
                    self._answer(producer, delivery)
                except brokerloop.lost_errors(connection):
                    raise
                except Exception:
                    LOG.exception('Dropped a message from queue %s that '
                                  'could not be answered.', self.topic)
                    self.counts['poison'] += 1
            connection.heartbeat_check()

    def _answer(self, producer, delivery):
        """Answer one call. A message that is not one of ours is dropped,
        and, if it was a call, its caller told why."""
        try:
            call = envelope.unpack(delivery.body, delivery.headers,
                                   self.api_version, METHODS)
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
            return
        body = (envelope.reply(msg_id, failure=failure) if failure
                else self._reply(call))
        producer.publish(
            body, exchange='', routing_key=reply_q,
            content_type='application/json', content_encoding='utf-8',
            delivery_mode='transient')

    def _reply(self, call):
        try:
            if set(call['args']) != ARGUMENTS:
                raise exception.Invalid(
                    reason='%s takes exactly the arguments %s'
                    % (call['method'], ', '.join(sorted(ARGUMENTS))))
            result = getattr(self.manager, call['method'])(
                None, **call['args'])
        except messaging.ExpectedException as expected:
            failure = expected.exc_info[1]
        except exception.Invalid as exc:
            failure = exc
        except Exception as exc:
            # As oslo.messaging's server: the caller gets it, and so does
            # the log, with its traceback.
            LOG.exception('%s failed.', call['method'])
            failure = exc
        else:
            self.counts['answered'] += 1
            return envelope.reply(call['_msg_id'], result=result)
        self.counts['failed'] += 1
        return envelope.reply(call['_msg_id'], failure=failure)


def _is_name(value):
    """True for what a reply queue's name or a call's id can be (an AMQP
    short string); a cast has neither."""
    return (isinstance(value, str)
            and 0 < len(value.encode('utf-8', 'surrogatepass')) <= 255)
