# SPDX-License-Identifier: Apache-2.0
"""Liveness from the conductor-stamped ``last_seen_up`` column.

The timestamp is written from the conductor's clock when a report arrives
and read against the same clock, so a reporter's clock skew never matters.

A service is down when it sent nothing for service_down_time before the
moment up to which the conductor has read every report. While the
conductor is behind (a backlog in its queue, the broker unreachable), a
service whose silence may only be reports not read yet is "unknown", with
the reason, not down: a liveness service must not have healthy hosts
evacuated because of its own delays.
"""

from sgconductor.servicegroup.drivers import base


class DbDriver(base.Driver):

    def _state(self, service, now, read_until):
        last = service.last_seen_up or service.created_at
        elapsed = (now - last).total_seconds()
        if abs(elapsed) <= self.service_down_time:
            return base.UP
        if elapsed < 0:
            # The conductor's clock went back since it stamped the row.
            return base.State(False, 'last report %d s in the future'
                              % -elapsed)
        if (read_until - last).total_seconds() <= self.service_down_time:
            return base.State(None, 'no report for %d s, but the conductor '
                              'may not have read every report sent in the '
                              'last %d s'
                              % (elapsed, (now - read_until).total_seconds()))
        return base.State(False, 'no report for %d s' % elapsed)

    def get_states(self, services, now, read_until):
        return [self._state(service, now, read_until)
                for service in services]
