"""Marks: how an intake learns that it has read every report sent so far.

Every MARK_INTERVAL seconds each intake puts a mark at the end of the
reports queue: an empty message whose MARK_HEADER holds the conductor's
time. When an intake reads it, every report that reached the queue before
that time has been read (the queue is first in, first out).

Marks are published over a connection of their own, never over the
intake's consuming one: RabbitMQ stops reading from a connection that
publishes while it is short of memory or disk, and the acknowledgements
written on it would wait with the mark. The queue could then not drain,
and the memory it holds could not be freed. A mark that cannot be put
only delays the next one: liveness judgement waits for it (see
``doc/liveness.rst``), which is right while reporters cannot publish
either.

After any time it could not put marks (started, reconnected after losing
the broker, or after a mark failed), a marker holds its marks back for
``resume_hold()`` seconds. Reports that could not be sent meanwhile are
gone, not queued: a reporter cut off from the broker sends its next one
only at its next report interval, once it has reconnected. Judged as of
the first mark after the outage, every service would look silent for the
whole outage and be called down; held back, the marks let each service
report again first, and until they move on, services whose silence may
be the outage are "unknown".
"""

import time

import kombu
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from sgconductor import outage

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# Seconds between two marks put at the end of the queue.
MARK_INTERVAL = 1.0
# The header of a mark: the conductor's time (ISO 8601) it was put.
MARK_HEADER = 'x-sgconductor-read-until'
# Seconds a mark may take to write to the socket before the connection is
# given up (and opened again for the next mark).
PUBLISH_TIMEOUT = 5


def resume_hold():
    """Seconds marks are held back after an interruption: two report
    intervals, so that a reporter whose first report after the outage is
    lost too still reports in time, and one mark interval."""
    return 2 * CONF.report_interval + MARK_INTERVAL


class Marker:
    """Puts marks at the end of one queue, at most every MARK_INTERVAL s.

    Called from the intake's thread between two batches; never raises for
    a broker that cannot take a mark.
    """

    def __init__(self, queue_name, hold):
        """``hold``: seconds marks are held back after an interruption."""
        self.queue_name = queue_name
        self.hold = hold
        self._broker = None
        self._connection = None
        self._producer = None
        self._next = 0
        self._outage = outage.Outage('the broker (marks on %s)' % queue_name)

    def follow(self, broker):
        """Put the next marks through a connection like ``broker`` (a
        kombu Connection: the intake's own, to the broker it reads), once
        the hold after this (re)connection is over."""
        self.close()
        self._broker = broker
        # The intake reached the broker: any failed mark before is
        # answered by this hold, not by another one after it.
        self._outage.succeeded()
        self._hold_back()

    def _hold_back(self):
        self._next = time.monotonic() + self.hold
        LOG.info('Liveness judgement on %(queue)s resumes in %(hold)d s, '
                 'once every service had time to report again.',
                 {'queue': self.queue_name, 'hold': self.hold})

    def put_if_due(self):
        now = time.monotonic()
        if now < self._next or self._broker is None:
            return
        self._next = now + MARK_INTERVAL
        try:
            if self._producer is None:
                self._connect()
                if self._outage.lost:
                    # Back after failing: hold back, as after follow().
                    self._outage.succeeded()
                    self._hold_back()
                    return
            self._producer.publish(
                b'', routing_key=self.queue_name, delivery_mode='transient',
                headers={MARK_HEADER: timeutils.utcnow().isoformat()},
                timeout=PUBLISH_TIMEOUT)
            # Sends our heartbeat when due; raises if the broker's stopped
            # coming.
            self._connection.heartbeat_check()
        except Exception as exc:
            self._outage.failed(exc)
            self.close()
        else:
            self._outage.succeeded()

    def _connect(self):
        self._connection = self._broker.clone()
        self._connection.ensure_connection(max_retries=0)
        # The default exchange routes to the queue of that name.
        self._producer = kombu.Producer(self._connection.channel())

    def close(self):
        """Drop the connection without the closing handshake, which a
        broker that stopped reading it would never answer."""
        connection, self._connection, self._producer = (
            self._connection, None, None)
        if connection is not None:
            connection.collect()
