# SPDX-License-Identifier: Apache-2.0
"""A conductor's own reports, without a round trip through the broker
while it can write to its database, through another conductor while it
cannot.

Conductors register themselves as ``pinning.CONDUCTOR_BINARY``, so that
clients can follow the oldest one's version (``[upgrade_levels] conductor
= auto``). They do it with the same ``Reporter`` as any service, handing
it a LocalConductorAPI instead of a ConductorAPI: the calls go straight to
this process's endpoint (Nova's conductor LocalAPI). While this process
cannot write to its database, they go over the broker instead, to a
conductor that can (``remote``): a conductor cut off from its database
is still running, and must not be listed down for it (it disables itself
instead: ``autodisable.py``).
"""

from sgconductor import exception


class LocalConductorAPI:
    """What a Reporter needs of ConductorAPI, answered by ``manager``, or
    by ``remote`` (a ConductorAPI) while ``writable()`` says the database
    cannot be written."""

    def __init__(self, manager, topic, remote, writable):
        self.manager = manager
        self.topic = topic
        self.remote = remote
        self.writable = writable

    def register_service(self, ctxt, report):
        """As ConductorAPI.register_service: the database being out of
        reach is the conductor being unavailable, to a reporter."""
        if not self.writable():
            return self.remote.register_service(ctxt, report)
        try:
            return self.manager.register_service(ctxt, **report)
        except (exception.DatabaseUnavailable,
                exception.DatabaseError) as exc:
            raise exception.ConductorUnavailable(
                topic=self.topic, reason=exception.first_line(exc))

    def report_state(self, ctxt, report):
        if not self.writable():
            self.remote.report_state(ctxt, report)
        else:
            self.manager.report_state(ctxt, **report)
