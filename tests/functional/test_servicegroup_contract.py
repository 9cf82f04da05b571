# SPDX-License-Identifier: Apache-2.0
"""The liveness contract on every real tooz backend.

The conductor runs in this process (in-memory transport, SQLite), the
reporters' tooz coordinators talk to the real ZooKeeper, Redis, memcached
and etcd. Killed reporter processes are in test_tooz_liveness.py.
"""

import time

import pytest

from tests import servicegroup_contract
from tests.functional import backends
from tests.inprocess import conductor  # noqa: F401
from tests.inprocess import conf  # noqa: F401
from tests.inprocess import db  # noqa: F401


class TestLivenessContract(servicegroup_contract.LivenessContract):

    @pytest.fixture(params=backends.NAMES + ['zk', 'mc'])
    def liveness(self, request, conf):  # noqa: F811
        """A tooz backend, or Nova's deprecated zk/mc alias of one."""
        if request.param in ('zk', 'mc'):
            return backends.require_legacy(conf, request.param)
        return backends.require(conf, request.param)

    def test_deployments_sharing_the_backend_never_see_each_other(
            self, fleet, conf):  # noqa: F811
        """The same binary and host in another deployment (another
        conductor topic) joins and is removed, as ``service delete`` there
        removes it: this deployment's service stays a member, and up."""
        fleet.start('cn1')
        fleet.wait_state('cn1', 'up')
        topic = conf.conf.conductor.topic
        conf.config(topic=topic + '-other', group='conductor')
        other = fleet.servicegroup.join(fleet.binary, 'cn1')
        other.join()
        assert other.is_member()
        fleet.servicegroup.remove(fleet.binary, 'cn1')
        conf.config(topic=topic, group='conductor')
        deadline = time.monotonic() + 6 * servicegroup_contract.INTERVAL
        while time.monotonic() < deadline:
            assert fleet.states()['cn1']['state'] == 'up'
            time.sleep(0.1)
        assert not fleet.loops['cn1'].reporters[0].deleted
