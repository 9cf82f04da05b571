# SPDX-License-Identifier: Apache-2.0
"""register_service, answered in batches on a queue of its own.

A fleet that starts at once (a region powered up again, a mass upgrade)
sends every service's registration at the same moment. Through
oslo.messaging's RPC server each costs a listener and a worker thread
hand-over, its own reply with a publisher confirm, and a place in a group
commit: the conductor took about 500 a second, and registrations of a
10,000-service herd timed out and were asked again (doc/scale.rst).

So ConductorAPI sends register_service to ``rpcapi.registrations_topic``
(from RPC 1.6, see ConductorAPI), and every conductor worker answers it
there (``callserver``): the calls waiting are taken up to PREFETCH at
once, checked one by one, written in one transaction
(``ConductorManager.register_services``), and answered each with what
register_service on the conductor topic would have answered. Anything
else gets what oslo.messaging's server would answer (``dispatch.py``):
a register_service cast, for one, registers its service unanswered.
"""

from sgconductor.conductor import callserver


class RegistrationServer(callserver.CallServer):
    """Answers register_service calls with ``manager``, a batch at a
    time."""

    NAME = 'registration server'
    METHODS = ('register_service',)
    # A transaction of service_upsert_many takes this many in a handful
    # of statements (db.sqlalchemy.api.CHUNK).
    PREFETCH = 1000

    def answer(self, calls):
        results = self.manager.register_services(
            [call.get('args', {}) for call in calls])
        return [self.replied(call, failure=result)
                if isinstance(result, Exception) else
                self.replied(call, result=result)
                for call, result in zip(calls, results, strict=True)]
