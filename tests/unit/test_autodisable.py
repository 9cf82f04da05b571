# SPDX-License-Identifier: Apache-2.0
"""A conductor that cannot write to its database disables itself, as
nova-compute does when it loses its hypervisor, and reports through
another conductor meanwhile (autodisable.py, localapi.py)."""

import logging
from unittest import mock

from sgconductor import exception
from sgconductor.conductor import autodisable
from sgconductor.conductor import localapi
from sgconductor.conductor import pinning
from tests.inprocess import report

HOST = 'ctl1'


def conductor_row(rpcapi, ctxt):
    (row,) = rpcapi.service_get_all(ctxt, host=HOST,
                                    binary=pinning.CONDUCTOR_BINARY)
    return row


def register(rpcapi, ctxt):
    rpcapi.register_service(ctxt, report(HOST, pinning.CONDUCTOR_BINARY))


class Problem:
    def __init__(self):
        self.text = None

    def __call__(self):
        return self.text


def test_it_disables_itself_and_enables_itself_again(conductor, rpcapi,
                                                     ctxt, caplog):
    caplog.set_level(logging.INFO)
    register(rpcapi, ctxt)
    problem = Problem()
    auto = autodisable.AutoDisable(conductor.manager, rpcapi, HOST, problem)
    auto.look(ctxt)
    assert conductor_row(rpcapi, ctxt)['status'] == 'enabled'
    problem.text = 'connection refused\nand a second line'
    auto.look(ctxt)
    row = conductor_row(rpcapi, ctxt)
    assert (row['status'], row['disabled_reason']) == (
        'disabled', 'AUTO: cannot write to its database: connection refused')
    # Up: it still runs, and reports (through another conductor).
    assert row['state'] == 'up'
    auto.look(ctxt)
    problem.text = None
    auto.look(ctxt)
    row = conductor_row(rpcapi, ctxt)
    assert (row['status'], row['disabled_reason']) == ('enabled', None)
    assert caplog.text.count('Disabled this conductor') == 1
    assert caplog.text.count('Enabled this conductor again') == 1


def test_an_operators_choice_stands(conductor, rpcapi, ctxt):
    register(rpcapi, ctxt)
    rpcapi.service_update(ctxt, HOST, pinning.CONDUCTOR_BINARY,
                          {'disabled': True, 'disabled_reason': 'rma'})
    problem = Problem()
    auto = autodisable.AutoDisable(conductor.manager, rpcapi, HOST, problem)
    problem.text = 'gone'
    auto.look(ctxt)
    problem.text = None
    auto.look(ctxt)
    row = conductor_row(rpcapi, ctxt)
    assert (row['status'], row['disabled_reason']) == ('disabled', 'rma')


def test_no_conductor_to_disable_it_is_retried_and_told_once(
        conductor, rpcapi, ctxt, caplog):
    register(rpcapi, ctxt)
    problem = Problem()
    problem.text = 'gone'
    auto = autodisable.AutoDisable(conductor.manager, rpcapi, HOST, problem)
    unavailable = exception.ConductorUnavailable(topic='t', reason='away')
    with mock.patch.object(rpcapi, 'service_get_all',
                           side_effect=unavailable):
        auto.look(ctxt)
        auto.look(ctxt)
    assert conductor_row(rpcapi, ctxt)['status'] == 'enabled'
    auto.look(ctxt)
    assert conductor_row(rpcapi, ctxt)['status'] == 'disabled'
    assert caplog.text.count('Lost contact with another conductor') == 1


def test_its_reports_go_through_another_conductor_meanwhile(conductor,
                                                            rpcapi, ctxt):
    writable = [True]
    remote = mock.Mock()
    local = localapi.LocalConductorAPI(conductor.manager, 'topic', remote,
                                       lambda: writable[0])
    payload = report(HOST, pinning.CONDUCTOR_BINARY)
    local.register_service(ctxt, payload)
    local.report_state(ctxt, payload)
    assert not remote.mock_calls
    writable[0] = False
    local.register_service(ctxt, payload)
    local.report_state(ctxt, payload)
    assert remote.mock_calls == [mock.call.register_service(ctxt, payload),
                                 mock.call.report_state(ctxt, payload)]
