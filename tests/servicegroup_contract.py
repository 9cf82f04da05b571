# SPDX-License-Identifier: Apache-2.0
"""One liveness contract for every servicegroup driver and backend.

A test module runs the contract by importing its tests, the ``fleet``
fixture and those of tests/inprocess.py, and by providing a ``liveness``
fixture
that configures ``[servicegroup]`` (driver and backend_url) on the ``conf``
fixture. The unit tests run it for ``db`` and for ``tooz`` on ``file://``,
the functional tests for ``tooz`` on ZooKeeper, Redis, memcached and etcd.
The conductor runs in this process; reporters and backend are real.
"""

import time
import uuid

import pytest

from sgconductor import reporter as sg_reporter
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.servicegroup import api as servicegroup_api
from sgconductor.servicegroup.drivers import base as servicegroup_base

INTERVAL = 0.5


def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError('condition not met within %s s' % timeout)


class Fleet:
    """Reporters of one binary, each with its own loop, as on real nodes.

    The binary, and so the backend group, is new for every fleet: backends
    are shared with other tests and runs.
    """

    def __init__(self):
        self.binary = 'nova-compute-' + uuid.uuid4().hex[:8]
        self.rpcapi = conductor_rpcapi.ConductorAPI()
        self.servicegroup = servicegroup_api.API()
        self.ctxt = conductor_rpcapi.admin_context()
        self.loops = {}

    def start(self, host):
        reporter = sg_reporter.Reporter(
            self.rpcapi, host, self.binary,
            membership=self.servicegroup.join(self.binary, host))
        loop = sg_reporter.ReportLoop([reporter], INTERVAL)
        loop.start()
        self.loops[host] = loop
        return reporter

    def stop(self, host):
        self.loops.pop(host).stop()

    def stop_all(self):
        for host in list(self.loops):
            self.stop(host)

    def states(self):
        return {s['host']: s
                for s in self.rpcapi.service_get_all(self.ctxt)}

    def wait_state(self, host, state, timeout=10.0):
        return wait_for(lambda: self.states().get(host, {}).get('state')
                        == state and self.states()[host], timeout)


class LivenessContract:
    """Subclass with a ``liveness`` fixture to run it for a backend."""

    @pytest.fixture
    def fleet(self, liveness, conductor):
        fleet = Fleet()
        yield fleet
        fleet.stop_all()

    def test_reporting_services_are_up(self, fleet):
        fleet.start('cn1')
        fleet.start('cn2')
        for host in ('cn1', 'cn2'):
            assert fleet.wait_state(host, 'up')['state_reason'] is None

    def test_a_stopped_service_goes_down_with_a_reason(self, fleet, conf):
        fleet.start('cn1')
        fleet.start('cn2')
        fleet.wait_state('cn1', 'up')
        fleet.wait_state('cn2', 'up')
        fleet.stop('cn1')
        down = fleet.wait_state('cn1', 'down',
                                timeout=conf.conf.service_down_time + 5)
        assert down['state_reason']
        assert fleet.states()['cn2']['state'] == 'up'

    def test_forced_down_is_down_while_it_reports(self, fleet):
        fleet.start('cn1')
        fleet.wait_state('cn1', 'up')
        fleet.rpcapi.service_update(fleet.ctxt, 'cn1', fleet.binary,
                                    {'forced_down': True})
        time.sleep(3 * INTERVAL)
        service = fleet.states()['cn1']
        assert (service['state'], service['state_reason']) == ('down',
                                                               'forced down')

    def test_a_deleted_running_service_does_not_come_back(self, fleet):
        reporter = fleet.start('cn1')
        fleet.start('cn2')
        fleet.wait_state('cn1', 'up')
        fleet.rpcapi.service_delete(fleet.ctxt, 'cn1', fleet.binary)
        time.sleep(6 * INTERVAL)
        assert set(fleet.states()) == {'cn2'}
        if type(reporter.membership) is not servicegroup_base.Membership:
            # A membership backend tells the reporter; it learns and stops.
            wait_for(lambda: reporter.deleted)
