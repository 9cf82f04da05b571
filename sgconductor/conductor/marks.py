# SPDX-License-Identifier: Apache-2.0
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
either. The marker says when a mark fails (``suspended``) and when
marks can be put again (``resumed``): reports that could not be sent
meanwhile are gone, and the intake claims no progress from the failure
until every service had time to report again after it
(``progress.IntakeProgress``).
"""

import time

import kombu
from oslo_utils import timeutils

from sgconductor import outage

# Seconds between two marks put at the end of the queue.
MARK_INTERVAL = 1.0
# The header of a mark: the conductor's time (ISO 8601) it was put.
MARK_HEADER = 'x-sgconductor-read-until'
# Seconds a mark may take to write to the socket before the connection is
# given up (and opened again for the next mark).
PUBLISH_TIMEOUT = 5


class Marker:
    """Puts marks at the end of one queue, at most every MARK_INTERVAL s.

    Called from the intake's thread between two batches; never raises for
    a broker that cannot take a mark.
    """

    def __init__(self, queue_name, suspended, resumed):
        """``suspended()`` is called when a mark could not be put,
        ``resumed()`` when marks can be put again after that."""
        self.queue_name = queue_name
        self.suspended = suspended
        self.resumed = resumed
        self._broker = None
        self._connection = None
        self._producer = None
        self._next = 0
        self._outage = outage.Outage('the broker (marks on %s)' % queue_name)

    def follow(self, broker):
        """Put the next marks through a connection like ``broker`` (a
        kombu Connection: the intake's own, to the broker it reads)."""
        self.close()
        self._broker = broker
        # The intake reached the broker: any failed mark before is
        # answered by the hold of this connection, not by another one.
        self._outage.succeeded()
        self._next = 0

    def put_if_due(self):
        now = time.monotonic()
        if now < self._next or self._broker is None:
            return
        self._next = now + MARK_INTERVAL
        try:
            if self._producer is None:
                self._connect()
                if self._outage.lost:
                    self._outage.succeeded()
                    self.resumed()
            self._producer.publish(
                b'', routing_key=self.queue_name, delivery_mode='transient',
                headers={MARK_HEADER: timeutils.utcnow().isoformat()},
                timeout=PUBLISH_TIMEOUT)
            # Sends our heartbeat when due; raises if the broker's stopped
            # coming.
            self._connection.heartbeat_check()
        except Exception as exc:
            if not self._outage.lost:
                self.suspended()
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
