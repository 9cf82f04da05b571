# SPDX-License-Identifier: Apache-2.0
"""How far a service's clock is from the conductor's.

Liveness never depends on a sender's clock: the conductor stamps every
report with its own (``last_seen_up``). A service whose clock is off
still matters to operators, since its logs, its own timestamps and
anything it signs are off too. So a registration (RPC 1.5) carries the
sender's clock; the difference, in whole seconds, is stored as
``clock_skew`` and logged when it exceeds ``[conductor]
clock_skew_warning``. It includes the time the call took to arrive:
milliseconds normally, more if it waited in the queue for a conductor
to start.
"""

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# What the column holds (a 32-bit integer): about 68 years either way.
MAX_SKEW = 2 ** 31 - 1


def skew(values, sent_at):
    """Seconds the sender of ``values`` (a registration) was ahead of the
    conductor when it sent it at ``sent_at`` (negative: behind); logged
    if beyond [conductor] clock_skew_warning."""
    seconds = round((sent_at - timeutils.utcnow()).total_seconds())
    seconds = max(-MAX_SKEW, min(MAX_SKEW, seconds))
    if abs(seconds) > CONF.conductor.clock_skew_warning:
        LOG.warning('The clock of %(binary)s on %(host)s is %(skew)d s '
                    "%(way)s the conductor's. Liveness does not depend on "
                    'it, but its logs and timestamps are off: check its '
                    'time synchronisation.',
                    {'binary': values['binary'], 'host': values['host'],
                     'skew': abs(seconds),
                     'way': 'ahead of' if seconds > 0 else 'behind'})
    return seconds
