# SPDX-License-Identifier: Apache-2.0
"""The newest conductor RPC version a client may send.

``[upgrade_levels] conductor`` either pins a version (``X.Y`` or a release
alias, see ``version.CONDUCTOR_RPC_ALIASES``) or, with ``auto``, follows
the oldest running conductor: its service version maps to the RPC version
it speaks (``version.SERVICE_VERSION_HISTORY``). Unset, nothing is capped.

Each message is sent at the oldest version that carries it (see
``ConductorAPI``), so the cap only matters for what a newer version added;
a client checks ``can_send_version`` before it uses that.
"""

from oslo_config import cfg
from oslo_log import log as logging

from sgconductor import version
from sgconductor.conf import upgrade_levels

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# The binary conductors register themselves as.
CONDUCTOR_BINARY = 'sgconductor-conductor'


class VersionCap:
    """Resolves ``level`` to a cap, each time one is needed.

    ``oldest_conductor()`` gives the lowest service version of running
    conductors, 0 if none runs (called only for ``auto``, which is why it
    should be cheap: a ``VersionCache`` lookup).
    """

    def __init__(self, oldest_conductor, level=None):
        self.level = CONF.upgrade_levels.conductor if level is None \
            else level
        self._oldest_conductor = oldest_conductor
        self._logged = None

    def get(self):
        """The cap, ``'X.Y'``, or None for no cap."""
        if self.level is None:
            return None
        if self.level != upgrade_levels.AUTO:
            return version.CONDUCTOR_RPC_ALIASES.get(self.level, self.level)
        oldest = self._oldest_conductor()
        # No conductor has registered: a new deployment, whose first
        # conductor registers as it starts, or conductors that all predate
        # registering themselves (2026.2). Until one registers, cap at
        # what the oldest conductor this code serves speaks; "nothing
        # runs" is never cached, so the cap follows the first one that
        # registers instead of staying pinned (Nova's cap stayed at its
        # oldest until a restart).
        cap = version.conductor_rpc_version(
            oldest or version.OLDEST_SUPPORTED_SERVICE_VERSION)
        self._log_choice(oldest, cap)
        return cap

    def _log_choice(self, oldest, cap):
        """Log the automatic choice at info the first time and whenever
        it changes; not on every message."""
        if (oldest, cap) == self._logged:
            return
        self._logged = (oldest, cap)
        if not oldest:
            LOG.info('No %(binary)s has registered yet: conductor RPC '
                     'messages capped at %(cap)s, what the oldest supported '
                     'conductor speaks, until one does ([upgrade_levels] '
                     'conductor = auto).',
                     {'binary': CONDUCTOR_BINARY, 'cap': cap})
        else:
            LOG.info('Conductor RPC messages capped at %(cap)s: the oldest '
                     '%(binary)s runs service version %(oldest)s '
                     '([upgrade_levels] conductor = auto).',
                     {'cap': cap, 'binary': CONDUCTOR_BINARY,
                      'oldest': oldest})
