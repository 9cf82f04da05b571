# SPDX-License-Identifier: Apache-2.0
"""Versioned notifications of service changes, received by a real
oslo.messaging notification listener (in-memory transport)."""

import oslo_messaging as messaging
import pytest

from sgconductor import notifications as sg_notifications
from tests.inprocess import last_seen
from tests.inprocess import report
from tests.unit.test_manager import wait_for

TOPIC = 'sgunit-notifications'


class Collector:
    """Notifications received at INFO; those at WARN in ``warned``."""

    def __init__(self):
        self.received = []
        self.warned = []

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.received.append((publisher_id, event_type, payload))

    def warn(self, ctxt, publisher_id, event_type, payload, metadata):
        self.warned.append(event_type)
        self.info(ctxt, publisher_id, event_type, payload, metadata)


@pytest.fixture
def notified(conf, db):
    """What a listener on TOPIC receives, with notifications turned on
    before the conductor starts."""
    conf.config(driver=['messagingv2'], topics=[TOPIC],
                group='oslo_messaging_notifications')
    transport = messaging.get_notification_transport(conf.conf)
    collector = Collector()
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic=TOPIC)], [collector],
        executor='threading')
    listener.start()
    yield collector
    listener.stop()
    listener.wait()
    transport.cleanup()


def _events(received, count):
    wait_for(lambda: len(received) >= count)
    return [(event_type, payload['nova_object.data']['host'])
            for _, event_type, payload in received]


def test_create_update_delete_and_purge_are_notified(notified, rpcapi,
                                                     ctxt, db):
    notified = notified.received
    rpcapi.register_service(ctxt, report('cn1', version=2))
    rpcapi.register_service(ctxt, report('cn1', version=2))  # a restart
    rpcapi.register_service(ctxt, report('gone', version=2))
    rpcapi.service_update(ctxt, 'cn1', 'nova-compute',
                          {'disabled': True, 'disabled_reason': 'maint'})
    rpcapi.service_delete(ctxt, 'cn1', 'nova-compute')
    last_seen(db, 'gone', 7200)
    rpcapi.service_purge(ctxt, 3600)
    assert _events(notified, 5) == [
        ('service.create', 'cn1'), ('service.create', 'gone'),
        ('service.update', 'cn1'), ('service.delete', 'cn1'),
        ('service.delete', 'gone')]
    publisher, _, update = notified[2]
    assert publisher == '%s:unit-host' % sg_notifications.PUBLISHER
    assert update['nova_object.name'] == 'ServiceStatusPayload'
    assert update['nova_object.version'] == '1.1'
    data = update['nova_object.data']
    assert data['disabled'] is True
    assert data['disabled_reason'] == 'maint'
    assert data['binary'] == 'nova-compute'
    assert data['version'] == 2
    assert data['report_count'] == 2
    assert set(data) == {'uuid', 'host', 'binary', 'topic', 'report_count',
                         'disabled', 'disabled_reason', 'availability_zone',
                         'last_seen_up', 'forced_down', 'version'}


def test_off_unless_a_driver_is_set(conductor):
    assert conductor.manager.notifier._notifier is None
    assert not conductor.manager.notifier._thread.running


def test_a_full_queue_drops_and_warns_once(conf, caplog, monkeypatch):
    conf.config(driver=['messagingv2'], topics=[TOPIC],
                group='oslo_messaging_notifications')
    monkeypatch.setattr(sg_notifications, 'QUEUE_SIZE', 2)
    notifier = sg_notifications.ServiceNotifier()
    notifier._notifier = object()  # enabled, but never sending
    row = type('Row', (), dict(
        uuid='u', host='h', binary='b', topic=None, report_count=1,
        disabled=False, disabled_reason=None, availability_zone=None,
        last_seen_up=None, forced_down=False, version=2))
    for _ in range(5):
        notifier.created(row)
    assert notifier.dropped == 3
    assert caplog.text.count('notifications wait to be sent') == 1


def _state_changes(received, count):
    def changes():
        return [(data['host'], data['previous_state'], data['state'],
                 data['reason'])
                for _, event_type, payload in received
                if event_type == 'service.state'
                for data in [payload['nova_object.data']]]
    wait_for(lambda: len(changes()) >= count)
    return changes()


def test_going_down_and_up_is_notified_once(notified, rpcapi, ctxt, db,
                                            conductor):
    manager = conductor.manager
    rpcapi.register_service(ctxt, report('cn1'))
    rpcapi.register_service(ctxt, report('cn2'))
    # The first judgement is recorded, not notified: service.create was.
    manager.notify_state_changes()
    last_seen(db, 'cn1', 100)
    manager.notify_state_changes()
    manager.notify_state_changes()
    rpcapi.service_update(ctxt, 'cn2', 'nova-compute',
                          {'forced_down': True})
    manager.notify_state_changes()
    rpcapi.register_service(ctxt, report('cn1'))
    manager.notify_state_changes()
    changes = _state_changes(notified.received, 3)
    assert changes == [
        ('cn1', 'up', 'down', 'no report for 100 s'),
        ('cn2', 'up', 'down', 'forced down'),
        ('cn1', 'down', 'up', None)]
    assert notified.warned == ['service.state', 'service.state']
    _, _, body = [n for n in notified.received
                  if n[1] == 'service.state'][0]
    assert (body['nova_object.name'], body['nova_object.namespace'],
            body['nova_object.version']) == (
        'ServiceStatePayload', 'sgconductor', '1.0')


def test_state_is_not_watched_without_notifications(conductor, rpcapi, ctxt,
                                                   db):
    rpcapi.register_service(ctxt, report('cn1'))
    conductor.manager.notify_state_changes()
    assert [s.notified_state for s in db.service_get_all()] == [None]
