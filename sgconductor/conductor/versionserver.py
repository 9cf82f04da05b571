# SPDX-License-Identifier: Apache-2.0
"""get_min_version and get_max_version, answered on a queue of their own.

The API side of a cloud asks the deployment's minimum service version
before it decides which RPC version to speak, so these calls are the
conductor's most frequent and the most sensitive to delay. Measured under
1,000 heartbeats a second on two cores, a stock oslo.messaging server
answered a bare ping in p99 5.7 ms, a single consumer thread that replies
at once in 3.9 ms (doc/scale.rst).

So ConductorAPI sends these two calls to ``rpcapi.versions_topic``, and
every conductor worker answers them there (``callserver``) with the
manager's own methods: the same checks and the same SQL as on the
conductor topic. A call with other arguments gets what oslo.messaging's
server would answer (``dispatch.py``).
"""

import oslo_messaging as messaging
from oslo_log import log as logging

from sgconductor.conductor import callserver

LOG = logging.getLogger(__name__)

# The arguments both methods take.
ARGUMENTS = {'binaries'}


class VersionServer(callserver.CallServer):
    """Answers get_min_version and get_max_version of ``manager``."""

    NAME = 'version server'
    METHODS = ('get_min_version', 'get_max_version')

    def usual(self, call):
        return set(call.get('args', {})) == ARGUMENTS

    def answer(self, calls):
        # One at a time: each caller answered before the next is read.
        return (self._reply(call) for call in calls)

    def _reply(self, call):
        try:
            result = getattr(self.manager, call['method'])(
                None, **call['args'])
        except messaging.ExpectedException as expected:
            return self.replied(call, failure=expected.exc_info[1])
        except Exception as exc:
            # As oslo.messaging's server: the caller gets it, and so does
            # the log, with its traceback.
            LOG.exception('%s failed.', call['method'])
            return self.replied(call, failure=exc)
        return self.replied(call, result=result)
