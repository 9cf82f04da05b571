# SPDX-License-Identifier: Apache-2.0
"""A consumer thread that stays connected to the broker by itself.

The heartbeat intake and the call servers (``callserver.py``) each
consume one queue with kombu on a thread of their own. All need the same
care around the connection: try the brokers of transport_url in the
order oslo.messaging's connections do (``rpc.broker_cycle``), moving on
to the next at once when one cannot be reached or is lost, log the loss
of every broker once and the recovery once, wait between two rounds of
attempts, and survive any error of their own code, since a process whose
consumer thread died would look alive and answer nothing ever again.
"""

import threading

import kombu.exceptions
from oslo_log import log as logging

from sgconductor import outage
from sgconductor import rpc
from sgconductor import threads
from sgconductor.conductor import deliveries

LOG = logging.getLogger(__name__)

# Seconds between two attempts to reach the broker.
RECONNECT_INTERVAL = 2
# Seconds between two looks at a closed gate.
GATE_INTERVAL = 0.2


class NotReady(Exception):
    """Raised by ``open``: the consumer cannot consume yet (it says why
    itself); the loop tries again after RECONNECT_INTERVAL."""


class BrokerLoop:
    """Runs ``consume(opened)`` on a thread, where ``opened`` is what
    ``open(connection)`` returned for a fresh broker connection, until
    stopped; starts over on a new connection whenever either fails.

    ``consume`` must return soon after ``stopping`` is set.
    """

    def __init__(self, name, open, consume, gate=None):
        """``gate()``, if given, is asked before every connection: while it
        says False, the loop does not connect (and ``consume`` should
        return when it would say so)."""
        self.name = name
        self.open = open
        self.consume = consume
        self.gate = gate
        self._broker = outage.Outage('the broker (%s)' % name)
        self._ready = threading.Event()
        self._thread = threads.Loop('sgconductor-' + name.replace(' ', '-'),
                                    self._run)

    @property
    def stopping(self):
        return self._thread.stopping

    def start(self, timeout=10):
        """Start; return once ``open`` succeeded (or after ``timeout`` s if
        the broker cannot be reached: the thread keeps trying)."""
        self._thread.start()
        self._ready.wait(timeout)

    def stop(self):
        """Stop and wait for the thread; False if it was not running."""
        return self._thread.stop()

    def _run(self):
        count = len(rpc.broker_connections())
        brokers = rpc.broker_cycle()
        # Brokers that failed in a row: once every one did (a round), the
        # loss is told and the loop waits before the next round.
        failures = 0
        while not self.stopping.is_set():
            if self.gate is not None and not self.gate():
                self.stopping.wait(GATE_INTERVAL)
                continue
            connection = next(brokers)
            lost = lost_errors(connection)
            opened = None
            try:
                connection.ensure_connection(max_retries=0)
                opened = self.open(connection)
                failures = 0
                self._broker.succeeded()
                self._ready.set()
                self.consume(opened)
            except lost as exc:
                failures += 1
                told = {'name': self.name, 'host': connection.host,
                        'error': exc}
                if opened is None:
                    LOG.debug('The %(name)s could not reach the broker at '
                              '%(host)s: %(error)s', told)
                elif count > 1:
                    LOG.warning('The %(name)s lost the broker at '
                                '%(host)s (%(error)s); trying the next.',
                                told)
                if failures >= count:
                    failures = 0
                    self._broker.failed(exc)
                    self.stopping.wait(RECONNECT_INTERVAL)
            except NotReady:
                self.stopping.wait(RECONNECT_INTERVAL)
            except Exception:
                LOG.exception('The %s failed; starting over.', self.name)
                self.stopping.wait(RECONNECT_INTERVAL)
            finally:
                _close(connection)


def lost_errors(connection):
    """The exceptions that mean ``connection`` is lost (start over on a
    new one), as a tuple. ``ensure_connection`` wraps a refused connection
    in kombu's OperationalError."""
    return ((deliveries.BrokerClosed, OSError,
             kombu.exceptions.OperationalError)
            + connection.connection_errors + connection.channel_errors)


def _close(connection):
    """Close the connection whatever state it is in: failing to close a
    broken one must not end the loop."""
    try:
        connection.release()
    except Exception as exc:
        LOG.debug('Closing the broker connection failed: %s', exc)
