"""A conductor's own reports, without a round trip through the broker.

Conductors register themselves as ``pinning.CONDUCTOR_BINARY``, so that
clients can follow the oldest one's version (``[upgrade_levels] conductor
= auto``). They do it with the same ``Reporter`` as any service, handing
it a LocalConductorAPI instead of a ConductorAPI: the calls go straight to
this process's endpoint (Nova's conductor LocalAPI).
"""

from sgconductor import exception


class LocalConductorAPI:
    """What a Reporter needs of ConductorAPI, answered by ``manager``."""

    def __init__(self, manager, topic):
        self.manager = manager
        self.topic = topic

    def register_service(self, ctxt, report):
        """As ConductorAPI.register_service: the database being out of
        reach is the conductor being unavailable, to a reporter."""
        try:
            return self.manager.register_service(ctxt, **report)
        except (exception.DatabaseUnavailable,
                exception.DatabaseError) as exc:
            raise exception.ConductorUnavailable(
                topic=self.topic, reason=exception.first_line(exc))

    def report_state(self, ctxt, report):
        self.manager.report_state(ctxt, **report)
