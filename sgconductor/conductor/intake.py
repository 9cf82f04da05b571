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
been read, and the writer records that moment with its next flush
(``read_up_to``). Liveness is judged as of that moment: a conductor
behind on its queue, overloaded or cut off from the broker, suspends its
judgement instead of calling services down for reports it has not read
yet.

A message that is not a report_state cast this conductor can read (not
JSON, not an oslo.messaging envelope, another method, an incompatible
version, too large) is poison: logged, counted, acknowledged and dropped,
so it can never be delivered again and again. Messages delivered again
after a lost connection whose batch this conductor already handled are
recognised by oslo.messaging's ``_unique_id`` and not counted twice.
"""

import collections
import datetime
import threading

import orjson
from kombu import compression
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from sgconductor import outage
from sgconductor import rpc
from sgconductor import threads
from sgconductor.conductor import deliveries as deliveries_lib
from sgconductor.conductor import marks as marks_lib

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# oslo.messaging's envelope: {"oslo.version": "2.0", "oslo.message": json}
ENVELOPE_MAJOR = '2'
# Seconds a receive waits for the first message of a batch: how quickly
# the intake notices it was asked to stop.
POLL_INTERVAL = 0.1
# Seconds between two attempts to reach the broker.
RECONNECT_INTERVAL = 2


class Poison(Exception):
    """A message the intake cannot handle; the text says why."""


def _version_is_compatible(served, sent):
    """True if a server of version ``served`` can take a message of
    ``sent`` (same major, not a newer minor): oslo.messaging's rule."""
    try:
        served_major, served_minor = served.split('.')
        sent_major, sent_minor = str(sent).split('.')
        return (sent_major == served_major
                and int(sent_minor) <= int(served_minor))
    except ValueError:
        return False


def unpack(delivery, api_version):
    """The report a delivery carries and its oslo.messaging unique id.

    Raises Poison for anything but a report_state cast of a compatible
    version.
    """
    if delivery.body is None:
        raise Poison('larger than %d bytes' % deliveries_lib.MAX_BODY)
    body = delivery.body
    codec = delivery.headers.get('compression')
    try:
        if codec:
            body = compression.decompress(body, codec)
        envelope = orjson.loads(body)
    except Exception as exc:
        raise Poison('not JSON (%s)' % type(exc).__name__)
    try:
        version = envelope['oslo.version']
        message = orjson.loads(envelope['oslo.message'])
    except (TypeError, KeyError, orjson.JSONDecodeError):
        raise Poison('not an oslo.messaging message')
    if not str(version).startswith(ENVELOPE_MAJOR + '.'):
        raise Poison('oslo.messaging envelope %r is not supported' % version)
    if not isinstance(message, dict):
        raise Poison('not an oslo.messaging message')
    method = message.get('method')
    if method != 'report_state':
        raise Poison('method %r is not served on this topic' % (method,))
    if not _version_is_compatible(api_version, message.get('version')):
        raise Poison('RPC API version %r is not compatible with %s'
                     % (message.get('version'), api_version))
    if not isinstance(message.get('args'), dict):
        raise Poison('its arguments are not a dict')
    return message['args'], message.get('_unique_id')


def declare_queue(topic):
    """Declare ``topic``'s queue, so that casts to it are kept until an
    intake consumes them."""
    connection = rpc.broker_connections()[0]
    with connection:
        rpc.topic_queue(topic)(connection.channel()).declare()


class ReportIntake:
    """Consumes one topic's queue on a thread and feeds the reports it
    carries to ``take_reports(reports)`` in batches."""

    def __init__(self, take_reports, read_up_to, topic, api_version,
                 prefetch):
        """``read_up_to(moment)`` is told when a mark put at ``moment``
        has been read: every report before it was handed over."""
        self.take_reports = take_reports
        self.read_up_to = read_up_to
        self.topic = topic
        self.api_version = api_version
        self.prefetch = prefetch
        # received, poison, refused (by take_reports), duplicates
        self.counts = collections.Counter()
        self._broker = outage.Outage('the broker (heartbeat intake)')
        # Unique ids of messages handled whose acknowledgement was lost
        # with the connection: kept until their redelivery is over.
        self._unacked = set()
        self._marker = marks_lib.Marker(topic)
        self._consumer = threads.Loop('sgconductor-report-intake',
                                      self._run)
        self._ready = threading.Event()

    def start(self, timeout=10):
        """Start consuming; returns once the queue is declared (or after
        ``timeout`` s if the broker cannot be reached: the intake keeps
        trying)."""
        self._consumer.start()
        self._ready.wait(timeout)

    def stop(self):
        """Finish and acknowledge the batch in hand, then disconnect."""
        if not self._consumer.stop():
            return
        LOG.info('Heartbeat intake of %(topic)s stopped: %(counts)s',
                 {'topic': self.topic, 'counts': dict(self.counts)})

    def _run(self):
        attempt = 0
        while not self._consumer.stopping.is_set():
            connections = rpc.broker_connections()
            connection = connections[attempt % len(connections)]
            attempt += 1
            lost = ((deliveries_lib.BrokerClosed, OSError)
                    + connection.connection_errors
                    + connection.channel_errors)
            try:
                connection.ensure_connection(max_retries=0)
                receiver = deliveries_lib.open_receiver(
                    connection, rpc.topic_queue(self.topic), self.prefetch)
                self._broker.succeeded()
                self._ready.set()
                self._consume(receiver)
            except lost as exc:
                self._broker.failed(exc)
                self._consumer.stopping.wait(RECONNECT_INTERVAL)
            except Exception:
                # Whatever went wrong, a process whose intake thread died
                # would look alive and take no heartbeat ever again.
                LOG.exception('Heartbeat intake of %s failed; starting '
                              'over.', self.topic)
                self._consumer.stopping.wait(RECONNECT_INTERVAL)
            finally:
                self._close(connection)
        self._marker.close()

    @staticmethod
    def _close(connection):
        """Close the connection whatever state it is in: failing to close
        a broken one must not end the intake."""
        try:
            connection.release()
        except Exception as exc:
            LOG.debug('Closing the broker connection failed: %s', exc)

    def _consume(self, receiver):
        while not self._consumer.stopping.is_set():
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
                report, unique_id = unpack(delivery, self.api_version)
            except Poison as exc:
                self._drop(exc)
                continue
            if delivery.redelivered and unique_id in self._unacked:
                self.counts['duplicates'] += 1
                continue
            handled.add(unique_id)
            reports.append(report)
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
        """Tell ``read_up_to`` the latest mark (one from the future, or
        not a time, is anybody's message but ours: not believed), less a
        flush interval: another intake may still hold, unflushed,
        heartbeats it took off the queue just before this mark."""
        now = timeutils.utcnow()
        moments = []
        for mark in marks:
            try:
                moments.append(min(now, timeutils.normalize_time(
                    timeutils.parse_isotime(mark))))
            except (TypeError, ValueError):
                self._drop('a mark that is not a time: %r' % (mark,))
        if moments:
            self.read_up_to(max(moments) - datetime.timedelta(
                seconds=CONF.conductor.flush_interval))

    def _drop(self, reason):
        self.counts['poison'] += 1
        LOG.warning('Dropped a message from queue %(topic)s: %(reason)s '
                    '(%(count)d dropped so far).',
                    {'topic': self.topic, 'reason': reason,
                     'count': self.counts['poison']})
