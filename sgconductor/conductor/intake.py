# SPDX-License-Identifier: Apache-2.0
"""The heartbeat intake: report_state casts taken off the broker in batches.

Reporters send ordinary oslo.messaging casts to the reports topic
(``rpcapi.reports_topic``). An oslo.messaging RPC server would take them
one at a time: decode, dispatch to a thread of its pool, acknowledge, each
with its own locks and frames, about 2,000 a second on two cores. The
intake consumes the same queue with kombu instead, on one thread:

* up to ``[conductor] report_prefetch`` messages are received at once
  (``deliveries.py``), unpacked from oslo.messaging's envelope here, and
  handed to the manager as one batch (``ConductorManager.take_reports``),
  which counts them in memory or writes them through;
* then the whole batch is acknowledged with one frame. A conductor that
  dies before that leaves the batch to the broker, which delivers it again
  (to this or another conductor).

Every second the intake puts a mark at the end of the queue
(``marks.py``). When an intake reads it, every report sent before it has
been read; its next flush records that moment with the heartbeats it took
before (``progress.py``), and liveness is judged as of the oldest such
moment of the intakes that may hold heartbeats not written yet: a
conductor behind on its queue, overloaded, or cut off from the broker or
its database, suspends the judgement instead of calling services down for
reports it has not written yet.

While its process cannot write to the database, the intake stops taking
reports as long as another process takes them (``gate.py``): what it did
not acknowledge goes back to the queue, what it took is written once the
database is back.

Any other oslo.messaging message (a call, another method, a namespace,
a version the intake does not take) is handled by oslo.messaging's own
dispatcher over ``ReportsEndpoint`` (``dispatch.py``): what a stock RPC
server of the reports topic would do, a call answered over a connection
of its own. What cannot be read as an oslo.messaging message (not JSON,
not an envelope, too large) is poison: acknowledged and dropped, so it
can never be delivered again and again. Both are counted and logged at
a bounded rate (``rejected.py``). Messages delivered again
after a lost connection whose batch this conductor already handled are
recognised by oslo.messaging's ``_unique_id`` and not counted twice.
"""

import collections

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from sgconductor import outage
from sgconductor import rpc
from sgconductor.conductor import brokerloop
from sgconductor.conductor import deliveries as deliveries_lib
from sgconductor.conductor import dispatch
from sgconductor.conductor import envelope
from sgconductor.conductor import marks as marks_lib
from sgconductor.conductor import rejected

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# Seconds a receive waits for the first message of a batch: how quickly
# the intake notices it was asked to stop.
POLL_INTERVAL = 0.1
# What a reports queue carries.
REPORT_METHODS = ('report_state',)
# Seconds an intake waits for its flusher to record it as a holder before
# it consumes (the database may be away: it tries again).
HOLDING_TIMEOUT = 10


class ReportsEndpoint:
    """What the reports topic serves, as a stock RPC server of it would:
    report_state, as the conductor topic serves it
    (``ConductorManager.report_state``)."""

    def __init__(self, take_reports, api_version):
        self.target = messaging.Target(version=api_version)
        self._take_reports = take_reports

    @messaging.expose
    def report_state(self, context, **report):
        self._take_reports([report])


class ReportIntake:
    """Consumes one topic's queue on a thread and feeds the reports it
    carries to ``take_reports(reports)`` in batches."""

    def __init__(self, take_reports, progress, topic, api_version,
                 prefetch, gate=None):
        """``progress``: the intake's ``progress.IntakeProgress``, told
        when a mark put at a moment has been read (every report before
        it was handed over), and when the intake starts and stops
        consuming. ``gate``: a ``gate.Gate`` that says when not to
        consume (None: always consume)."""
        self.take_reports = take_reports
        self.endpoint = dispatch.Endpoint(
            ReportsEndpoint(take_reports, api_version), REPORT_METHODS,
            topic)
        self.progress = progress
        self.topic = topic
        self.prefetch = prefetch
        self.gate = gate
        # received, poison, dispatched (dispatch.py), refused (by
        # take_reports), duplicates
        self.counts = collections.Counter()
        # Unique ids of messages handled whose acknowledgement was lost
        # with the connection: kept until their redelivery is over.
        self._unacked = set()
        self._marker = marks_lib.Marker(topic, progress.suspend,
                                        progress.hold)
        # The connection the intake consumes on (replies go out on a
        # clone of it).
        self._broker = None
        self._holding = outage.Outage('the database (to take reports '
                                      'from %s)' % topic)
        self._loop = brokerloop.BrokerLoop(
            'heartbeat intake', self._open, self._consume,
            gate=gate and (lambda: gate.may_consume(consuming=False)))

    def start(self, timeout=10):
        """Start consuming; returns once the queue is declared (or after
        ``timeout`` s if the broker cannot be reached: the intake keeps
        trying)."""
        self._loop.start(timeout)

    def stop(self):
        """Finish and acknowledge the batch in hand, then disconnect."""
        if not self._loop.stop():
            return
        self._marker.close()
        LOG.info('Heartbeat intake of %(topic)s stopped: %(counts)s',
                 {'topic': self.topic, 'counts': dict(self.counts)})

    def _open(self, connection):
        """Become a holder (progress.py), then consume."""
        self.progress.start_holding()
        if not self.progress.wait_holding(HOLDING_TIMEOUT):
            self.progress.release()
            self._holding.failed('the database did not record it as taking '
                                 'reports within %d s' % HOLDING_TIMEOUT)
            raise brokerloop.NotReady()
        self._holding.succeeded()
        self._broker = connection
        try:
            self._marker.follow(connection)
            return deliveries_lib.open_receiver(
                connection, rpc.topic_queue(self.topic), self.prefetch)
        except Exception:
            self.progress.release()
            raise

    def _consume(self, receiver):
        """Take batches until stopped, or until the gate closes; then the
        connection is dropped (what was not acknowledged goes back to the
        queue) and the progress released."""
        try:
            while not self._loop.stopping.is_set():
                if self.gate and not self.gate.may_consume(consuming=True):
                    return
                self._marker.put_if_due()
                batch = receiver.receive(POLL_INTERVAL, self.prefetch)
                if not batch:
                    continue
                handled = self._handle(batch)
                try:
                    receiver.settle(batch)
                except Exception:
                    # The broker will deliver this batch again.
                    self._unacked |= handled
                    raise
                if not any(delivery.redelivered for delivery in batch):
                    self._unacked.clear()
        finally:
            self._marker.close()
            self.progress.release()

    def _handle(self, batch):
        """Unpack a batch and hand its reports over; return the unique ids
        of the messages handled."""
        reports = []
        handled = set()
        marks = []
        replies = []
        for delivery in batch:
            if marks_lib.MARK_HEADER in delivery.headers:
                marks.append(delivery.headers[marks_lib.MARK_HEADER])
                continue
            try:
                message = envelope.read(delivery.body, delivery.headers)
            except envelope.Poison as exc:
                self.counts['poison'] += 1
                rejected.dropped(self.topic, exc.reason, exc)
                continue
            unique_id = message.get('_unique_id')
            if delivery.redelivered and unique_id in self._unacked:
                self.counts['duplicates'] += 1
                continue
            handled.add(unique_id)
            if '_msg_id' in message or not self.endpoint.usual(message):
                replies.extend(self._dispatch(message))
            else:
                reports.append(message.get('args', {}))
        try:
            self.counts['refused'] += self.take_reports(reports)
        except Exception:
            # A bug must cost this batch, not the intake: acknowledged
            # anyway, or it would come back and fail forever.
            self.counts['refused'] += len(reports)
            LOG.exception('Dropped a batch of %d reports.', len(reports))
        self.counts['received'] += len(batch) - len(marks)
        if marks:
            self._read_marks(marks)
        if replies:
            self._reply(replies)
        return handled

    def _dispatch(self, message):
        """Handle an unusual message as a stock server would; the reply
        to send (``(reply_q, body)``), if it is a call."""
        self.counts['dispatched'] += 1
        reply_q = dispatch.reply_to(message)
        result, failure = self.endpoint.handle(message,
                                               answered=bool(reply_q))
        if not reply_q:
            return []
        return [(reply_q, envelope.reply(message['_msg_id'], result=result,
                                         failure=failure))]

    def _reply(self, replies):
        """Answer the calls of a batch, over a connection of their own
        (the consuming one is read by the frame receiver): no intake
        waits for replies to calls nobody should send it, so a broker
        that cannot take them costs their callers a timeout."""
        try:
            with self._broker.clone() as connection:
                connection.ensure_connection(max_retries=0)
                channel = connection.channel()
                for reply_q, body in replies:
                    envelope.publish(channel, reply_q, body)
        except Exception as exc:
            for _ in replies:
                rejected.dropped(self.topic, 'reply_lost',
                                 'could not answer a call: %s' % exc)

    def _read_marks(self, marks):
        """Tell the progress the latest mark (one from the future, or not
        a time, is anybody's message but ours: not believed)."""
        now = timeutils.utcnow()
        moments = []
        for mark in marks:
            try:
                moments.append(min(now, timeutils.normalize_time(
                    timeutils.parse_isotime(mark))))
            except (TypeError, ValueError):
                self.counts['poison'] += 1
                rejected.dropped(self.topic, 'bad_mark',
                                 'a mark that is not a time: %r' % (mark,))
        if moments:
            self.progress.read_up_to(max(moments))
