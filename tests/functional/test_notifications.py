"""Versioned notifications on RabbitMQ: a real conductor process emits,
a listener in this process receives, as a consumer of Nova's
notifications would."""

import oslo_messaging as messaging
from oslo_config import cfg

from sgconductor.conductor import rpcapi as conductor_rpcapi

BINARY = 'nova-compute'
TIMEOUT = 20


class Collector:
    def __init__(self):
        self.received = []

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.received.append(
            (event_type, payload['nova_object.data']['host']))


def test_service_changes_are_notified(deployment, client):
    d = deployment
    topic = d.topic + '-notifications'
    transport = messaging.get_notification_transport(cfg.CONF)
    collector = Collector()
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic=topic)], [collector],
        executor='threading')
    listener.start()  # declares the queue before anything is emitted
    try:
        d.start_conductor(sections={'oslo_messaging_notifications': {
            'driver': 'messagingv2', 'topics': topic}})
        ctxt = conductor_rpcapi.admin_context()
        client.register_service(ctxt, {'host': 'cn1', 'binary': BINARY,
                                       'version': 2})
        d.manage_ok('service', 'disable', 'cn1', BINARY, '--reason', 'rma')
        d.manage_ok('service', 'delete', 'cn1', BINARY)
        expected = [('service.create', 'cn1'), ('service.update', 'cn1'),
                    ('service.delete', 'cn1')]
        d.wait_for('three notifications',
                   lambda: [e for e in collector.received
                            if e[1] == 'cn1'] == expected, TIMEOUT)
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
