# SPDX-License-Identifier: Apache-2.0
"""The liveness contract for the db driver and the tooz driver on file://.

The functional suite runs the same contract on ZooKeeper, Redis, memcached
and etcd.
"""

import pytest

from tests import servicegroup_contract


class TestLivenessContract(servicegroup_contract.LivenessContract):

    @pytest.fixture(params=['db', 'tooz-file'])
    def liveness(self, request, conf, tmp_path):
        if request.param == 'tooz-file':
            conf.config(driver='tooz', group='servicegroup',
                        backend_url='file://%s?timeout=2'
                        % (tmp_path / 'tooz'))
        return request.param
