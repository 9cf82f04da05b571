"""The liveness contract on every real tooz backend.

The conductor runs in this process (in-memory transport, SQLite), the
reporters' tooz coordinators talk to the real ZooKeeper, Redis, memcached
and etcd. Killed reporter processes are in test_tooz_liveness.py.
"""

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
