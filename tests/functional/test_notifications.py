# SPDX-License-Identifier: Apache-2.0
"""Versioned notifications on RabbitMQ: a real conductor process emits,
a listener in this process receives, as a consumer of Nova's
notifications would."""

from sgconductor.conductor import rpcapi as conductor_rpcapi
from tests.functional import listener

BINARY = 'nova-compute'
TIMEOUT = 20


def test_service_changes_are_notified(deployment, client):
    d = deployment
    with listener.notifications(d) as received:
        ctxt = conductor_rpcapi.admin_context()
        client.register_service(ctxt, {'host': 'cn1', 'binary': BINARY,
                                       'version': 2})
        d.manage_ok('service', 'disable', 'cn1', BINARY, '--reason', 'rma')
        d.manage_ok('service', 'delete', 'cn1', BINARY)
        expected = [('service.create', 'cn1'), ('service.update', 'cn1'),
                    ('service.delete', 'cn1')]
        d.wait_for('three notifications',
                   lambda: [e for e in received
                            if e[1] == 'cn1'] == expected, TIMEOUT)


def test_a_compute_going_down_and_up_is_notified(deployment, client):
    d = deployment
    with listener.notifications(d, state_check_interval=1) as received:
        compute = d.start_compute('cn1', '--host', 'cn1')
        d.wait_for('cn1 registered',
                   lambda: ('service.create', 'cn1') in received, TIMEOUT)
        compute.stop(TIMEOUT)
        d.wait_for('cn1 notified down',
                   lambda: ('service.state', 'cn1', 'down') in received,
                   TIMEOUT)
        d.start_compute('cn1-again', '--host', 'cn1')
        d.wait_for('cn1 notified up',
                   lambda: ('service.state', 'cn1', 'up') in received,
                   TIMEOUT)
        assert [e for e in received if e[0] == 'service.state'] == [
            ('service.state', 'cn1', 'down'), ('service.state', 'cn1', 'up')]
