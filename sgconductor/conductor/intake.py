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

A message that is not a report_state cast this conductor can read (not
JSON, not an oslo.messaging envelope, another method, an incompatible
version, too large) is poison: logged, counted, acknowledged and dropped,
so it can never be delivered again and again. Messages delivered again
after a lost connection whose batch this conductor already handled are
recognised by oslo.messaging's ``_unique_id`` and not counted twice.
"""

import collections

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from sgconductor import outage
from sgconductor import rpc
from sgconductor.conductor import brokerloop
from sgconductor.conductor import deliveries as deliveries_lib
from sgconductor.conductor import envelope
from sgconductor.conductor import marks as marks_lib

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
        self.progress = progress
        self.topic = topic
        self.api_version = api_version
        self.prefetch = prefetch
        self.gate = gate
        # received, poison, refused (by take_reports), duplicates
        self.counts = collections.Counter()
        # Unique ids of messages handled whose acknowledgement was lost
        # with the connection: kept until their redelivery is over.
        self._unacked = set()
        self._marker = marks_lib.Marker(topic, progress.suspend,
                                        progress.hold)
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
        for delivery in batch:
            if marks_lib.MARK_HEADER in delivery.headers:
                marks.append(delivery.headers[marks_lib.MARK_HEADER])
                continue
            try:
                message = envelope.unpack(delivery.body, delivery.headers,
                                          self.api_version, REPORT_METHODS)
            except envelope.Poison as exc:
                envelope.drop(self.counts, self.topic, exc)
                continue
            unique_id = message.get('_unique_id')
            if delivery.redelivered and unique_id in self._unacked:
                self.counts['duplicates'] += 1
                continue
            handled.add(unique_id)
            reports.append(message['args'])
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
        return handled

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
                envelope.drop(self.counts, self.topic,
                              'a mark that is not a time: %r' % (mark,))
        if moments:
            self.progress.read_up_to(max(moments))
