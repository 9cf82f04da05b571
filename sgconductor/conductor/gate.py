# SPDX-License-Identifier: Apache-2.0
"""Stop taking work this process could only refuse, while another takes it.

A conductor process that cannot write to its database can only refuse
calls, and only keep heartbeats in memory, where a healthy conductor of
another controller would serve them. So each of its own consumers
(heartbeat intake, version and registration servers) asks a Gate before
it takes anything: while the database cannot
be written (``HeartbeatBuffer.writable``) and the broker counts another
consumer on the same queue, the gate is closed, the consumer lets go of
its queue (what it did not acknowledge goes back to it), and the others
take everything. When the database is back, it opens again.

When no other process consumes the queue (a single conductor, or every
one cut off from the database at once), the consumer goes on: a call
gets its DatabaseUnavailable at once instead of waiting for its timeout,
and heartbeats are counted in memory, one entry per service, rather than
pile up in the broker, which would run out of memory first. Of several
closed gates none of whose queues has a consumer left, the first to look
twice in a row opens; the looks are a random interval apart, so that
they do not all open together.

Each change of what a gate does is logged once.

The RPC server of the conductor topic, oslo.messaging's, has no gate:
stopping it loses the calls in flight (oslo.messaging 18.3 acknowledges
each call as it reads it, and its heartbeat thread goes on reading after
the server stopped: measured, every one of four concurrent calls was
lost, their callers timing out). It goes on answering, and refuses what
needs the database at once with DatabaseUnavailable, which ConductorAPI
asks again, a few times, so that another conductor answers it.
"""

import random
import time

from oslo_log import log as logging

from sgconductor import rpc

LOG = logging.getLogger(__name__)

# Seconds between two looks at the queue's consumers, on average, while
# the database cannot be written.
LOOK_INTERVAL = 1.0


class Gate:
    """Whether the consumer ``name`` of ``queue`` may consume now.

    ``writable()`` says whether this process can write to its database;
    ``consumers(queue)``, how many consumers the broker counts on the
    queue (None: unknown).
    """

    def __init__(self, name, queue, writable, consumers=None):
        self.name = name
        self.queue = queue
        self.writable = writable
        self.consumers = consumers or rpc.queue_consumers
        self._closed = False
        self._alone = False
        self._empty_looks = 0
        self._next_look = 0.0

    def may_consume(self, consuming):
        """True if the consumer may (go on) consume; ``consuming``: it
        does now (and so counts among the queue's consumers)."""
        if self.writable():
            if self._closed or self._alone:
                LOG.info('The %(name)s takes from %(queue)s again: the '
                         'database can be written again.', self._told())
            self._closed = self._alone = False
            self._empty_looks = 0
            return True
        now = time.monotonic()
        if now < self._next_look:
            return not self._closed
        self._next_look = now + LOOK_INTERVAL * random.uniform(0.5, 1.5)
        count = self.consumers(self.queue)
        if count is None:
            return not self._closed
        if count - (1 if consuming else 0) > 0:
            if not self._closed:
                LOG.warning('The %(name)s stops taking from %(queue)s while '
                            'this process cannot write to the database: '
                            'another process takes from it.', self._told())
            self._closed, self._alone = True, False
            self._empty_looks = 0
            return False
        if self._closed:
            self._empty_looks += 1
            if self._empty_looks < 2:
                return False
            self._closed = False
        if not self._alone:
            LOG.warning('The %(name)s cannot write to the database, and no '
                        'other process takes from %(queue)s: it goes on '
                        'taking from it.', self._told())
        self._alone = True
        return True

    def _told(self):
        return {'name': self.name, 'queue': self.queue}

