#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""sgconductor-compute --fleet, with the fleet's members on one session.

``sgconductor-compute --fleet N`` gives every simulated service its own
tooz coordinator, as N real hosts would have. On ZooKeeper and etcd each
coordinator keeps a session alive (kazoo pings, etcd lease refreshes) from
its own threads: on a 2-core machine 100 of them cost about 0.2 to 0.3 CPU
while idle, so 1,000 would need the whole machine before the conductor and
the backend get any.

Here one coordinator per process holds the member entries of all its
simulated services: ZooKeeper ephemeral nodes of one session, etcd keys of
one lease. The conductor still sees, reads and judges N members; the
entries vanish together when the process dies. Only the per-service
sessions are not simulated, so this is for ZooKeeper and etcd benchmarks;
Redis and memcached key heartbeats by member id and need a coordinator per
member (sgconductor-compute).

    python tools/fleet.py --config-file C --host live0 --fleet 250
"""

import contextlib
import os
import threading

from sgconductor.cmd import compute
from sgconductor.servicegroup import api as servicegroup_api
from sgconductor.servicegroup.drivers import base
from sgconductor.servicegroup.drivers import tooz_driver

SESSION_SCHEMES = ('zookeeper', 'kazoo', 'etcd3+http', 'etcd3+https')


class SharedSession:
    """One tooz coordinator joining and leaving on behalf of many members."""

    def __init__(self):
        backend_url = servicegroup_api.API().driver.backend_url
        if not (backend_url or '').startswith(
                tuple(s + '://' for s in SESSION_SCHEMES)):
            raise SystemExit('tools/fleet.py needs a session-based tooz '
                             'backend (%s), not %r'
                             % (', '.join(SESSION_SCHEMES), backend_url))
        self.coordinator = tooz_driver.start_coordinator(
            backend_url, b'sgconductor-fleet:%d' % os.getpid())
        self.group_members = tooz_driver.GroupMembers(
            tooz_driver.ToozDriver.MEMBERSHIP_MAX_AGE)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def acting_as(self, member):
        """tooz joins and leaves as the coordinator's own member id; lend it
        ``member``'s for one operation, waited for inside the block without
        a timeout: an operation still running after the block would act
        under the wrong id."""
        with self._lock:
            own = self.coordinator._member_id
            self.coordinator._member_id = member
            try:
                yield self.coordinator
            finally:
                self.coordinator._member_id = own

    def join(self, binary, host):
        return SharedMember(self, binary, host)


class SharedMember(base.Membership):

    def __init__(self, session, binary, host):
        self.session = session
        self.group = tooz_driver.group_id(binary)
        self.member = tooz_driver.member_id(binary, host)

    @tooz_driver.translate_errors
    def is_member(self):
        return self.member in self.session.group_members.get(
            self.group, self.session.coordinator)

    @tooz_driver.translate_errors
    def join(self):
        with self.session.acting_as(self.member) as coordinator:
            tooz_driver.join_group(coordinator, self.group, timeout=None)
        self.session.group_members.forget(self.group)

    @tooz_driver.translate_errors
    def leave(self):
        with self.session.acting_as(self.member) as coordinator:
            tooz_driver.leave_group(coordinator, self.group, timeout=None)


if __name__ == '__main__':
    compute.main(servicegroup_factory=SharedSession)
