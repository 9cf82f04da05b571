# SPDX-License-Identifier: Apache-2.0
"""Log the loss of a peer once and its recovery once, not every attempt."""

import threading

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class Outage:
    """Contact with one peer (the conductor, a liveness backend, ...).

    Callers report every attempt; only the transitions are logged, so a
    peer that stays away for an hour costs two log lines, not thousands.
    Safe to use from several threads.
    """

    def __init__(self, peer):
        self.peer = peer
        self.lost = False
        # What the failure that began the outage said.
        self.error = None
        self._lock = threading.Lock()

    def failed(self, error):
        with self._lock:
            if self.lost:
                return
            self.lost = True
            self.error = error
        LOG.error('Lost contact with %s: %s', self.peer, error)

    def succeeded(self):
        with self._lock:
            if not self.lost:
                return
            self.lost = False
        LOG.info('Contact with %s recovered.', self.peer)
