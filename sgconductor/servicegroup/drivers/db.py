"""Liveness from the conductor-stamped ``last_seen_up`` column.

The timestamp is written from the conductor's clock when a report arrives
and read against the same clock, so a reporter's clock skew never matters.
"""

from sgconductor.servicegroup.drivers import base


class DbDriver(base.Driver):

    def _state(self, service, now):
        last = service.last_seen_up or service.created_at
        elapsed = (now - last).total_seconds()
        if abs(elapsed) <= self.service_down_time:
            return base.UP
        if elapsed < 0:
            # The conductor's clock went back since it stamped the row.
            return base.State(False, 'last report %d s in the future'
                              % -elapsed)
        return base.State(False, 'no report for %d s' % elapsed)

    def get_states(self, services, now):
        return [self._state(service, now) for service in services]
