# SPDX-License-Identifier: Apache-2.0
"""Quorum queues: every queue sgconductor declares itself is one with
``[oslo_messaging_rabbit] rabbit_quorum_queue = true``, and a deployment
switched from classic queues gets one clear line, not a crash loop.

RabbitMQ forbids exclusive quorum queues: the queue each API process
binds to the version announcements' fanout exchange stays a classic,
exclusive one, which goes with the process that declared it
(``rpc.fanout_queue``; doc/ha.rst).
"""

import socket
import subprocess

import pytest

from sgconductor.conductor import rpcapi as conductor_rpcapi
from tests.functional import deployment as sg_deployment

QUORUM = {'oslo_messaging_rabbit': {'rabbit_quorum_queue': 'true',
                                    'amqp_auto_delete': 'false'}}
TIMEOUT = 30


@pytest.fixture
def backend():
    return 'postgresql'


def queue_types(prefix):
    """{queue name: type} of the broker's queues whose names start with
    ``prefix``."""
    listed = subprocess.run(
        ['rabbitmqctl', '-q', 'list_queues', 'name', 'type'],
        capture_output=True, text=True, check=True, timeout=TIMEOUT)
    types = {}
    for line in listed.stdout.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].startswith(prefix):
            types[fields[0]] = fields[1]
    return types


def project_queues(topic):
    """The queues of the conductor topic: oslo.messaging's RPC server's
    and the conductor's own."""
    return {topic, '%s.%s' % (topic, socket.gethostname()),
            conductor_rpcapi.reports_topic(topic),
            conductor_rpcapi.versions_topic(topic),
            conductor_rpcapi.registrations_topic(topic)}


def assert_quorum(d):
    types = queue_types(d.topic)
    for name in project_queues(d.topic):
        assert types.get(name) == 'quorum', (name, types)


def test_every_queue_of_the_project_is_a_quorum_queue(deployment):
    d = deployment
    d.reconfigure(QUORUM)
    d.start_conductor()
    d.start_compute('cn1', '--host', 'cn1')
    d.wait_for_services('cn1 up', lambda s: s.get('cn1', {}).get('state')
                        == 'up', TIMEOUT)
    assert_quorum(d)


def test_switching_to_quorum_queues_is_one_clear_line(deployment):
    d = deployment
    # Classic queues that stay (amqp_auto_delete's default).
    d.reconfigure({'oslo_messaging_rabbit': {'amqp_auto_delete': 'false'}})
    d.start_conductor()
    d.stop_conductor()
    assert set(queue_types(d.topic)) >= project_queues(d.topic)

    d.reconfigure(QUORUM)
    result = d.manage(script='sgconductor-conductor')
    assert result.returncode == 1, result
    line = sg_deployment.one_line(result.stderr)
    assert 'PRECONDITION_FAILED' in line and 'delete_queue' in line, line
    # Every one to delete, named at once.
    for name in project_queues(d.topic):
        assert 'queue %s,' % name in line or 'queue %s ' % name in line, (
            name, line)
    assert 'exchange %s' % d.topic in line, line
    print(line)

    # What the line tells an operator to do (the control exchange turned
    # durable with quorum queues too).
    conn = sg_deployment.amqp_connection(d.transport_url)
    conn.connect()
    try:
        channel = conn.channel()
        for name in project_queues(d.topic):
            channel.queue_delete(name)
        channel.exchange_delete(d.topic)
    finally:
        conn.close()
    d.start_conductor()
    assert_quorum(d)
