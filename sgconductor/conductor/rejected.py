# SPDX-License-Identifier: Apache-2.0
"""Messages and reports the conductor drops or refuses, counted by
reason and logged at a bounded rate (``sgconductor/tally.py``).

Anyone holding broker credentials can fill a queue with garbage, and a
broken reporter can send the same bad report every few seconds: the
first of each reason is logged in full, the rest counted, summed up at
most once a minute, and shown by /metrics as
``sgconductor_rejected_messages_total{host,reason}``. Reasons are
``envelope.Poison``'s (what could not be read as an oslo.messaging
message), the class name of the exception a message was refused with
(``dispatch.py``: NoSuchMethod, UnsupportedVersion, TypeError, ...; or,
for a registration, InvalidReport, DatabaseUnavailable, ...),
``invalid_report`` (a report_state payload the checks refused) and
``database`` (a report lost to the database).
"""

from oslo_log import log as logging

from sgconductor import tally

LOG = logging.getLogger(__name__)

# The counter's name, in conductor_counters and /metrics.
NAME = 'rejected_messages'
INVALID_REPORT = 'invalid_report'
DATABASE = 'database'

REJECTED = tally.Tally(NAME, LOG, 'Messages and reports dropped or refused')


def dropped(topic, reason, why):
    """A message taken off ``topic`` and dropped unanswered."""
    REJECTED.add(reason, 'Dropped a message from queue %(topic)s: %(why)s',
                 topic=topic, why=why)


def refused(topic, method, failure, answered):
    """A message of ``method`` on ``topic`` that raised ``failure``:
    sent back to its caller (``answered``), or, a cast, dropped."""
    REJECTED.add(type(failure).__name__,
                 '%(what)s %(method)r from queue %(topic)s: '
                 '%(class)s: %(error)s',
                 what='Answered with an error a call of' if answered
                 else 'Dropped a cast of', method=method, topic=topic,
                 error=failure, **{'class': type(failure).__name__})


def registration(failure):
    """A registration refused with ``failure`` (its caller is told, and
    asks again: one database outage refuses a fleet, again and again)."""
    REJECTED.add(type(failure).__name__, 'Registration refused: %(error)s',
                 error=failure)


def report(reason, why):
    """A report_state payload that is lost (``why``)."""
    REJECTED.add(reason, 'Dropped report: %(why)s', why=why)
