# SPDX-License-Identifier: Apache-2.0
"""The heartbeat intake: batches, poison messages, redeliveries, and calls
that never queue behind heartbeats."""

import datetime
import json
import logging
import threading
import time
import types

from oslo_config import cfg
from oslo_utils import timeutils

from sgconductor import service
from sgconductor.conductor import brokerloop
from sgconductor.conductor import deliveries
from sgconductor.conductor import intake
from sgconductor.conductor import marks
from sgconductor.conductor import progress
from tests.inprocess import envelope
from tests.inprocess import publish_raw
from tests.inprocess import report

CONF = cfg.CONF
FLOOD = 500


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'condition not met in time'
        time.sleep(0.05)


def test_calls_are_answered_while_heartbeats_are_stuck(conductor, rpcapi,
                                                       ctxt):
    registered = rpcapi.register_service(ctxt, report('cn1'))['service']
    gate = threading.Event()
    handled = []
    take_reports = conductor.intake.consumer.take_reports

    def stuck_take_reports(reports):
        gate.wait(60)
        refused = take_reports(reports)
        # Counted once taken: a flush after the last batch has them all.
        handled.extend(reports)
        return refused

    conductor.intake.consumer.take_reports = stuck_take_reports
    try:
        for _ in range(FLOOD):
            rpcapi.report_state(ctxt, dict(report('cn1'),
                                           uuid=registered['uuid']))
        # The intake is stuck on its first batch, the rest queued...
        (listed,) = rpcapi.service_get_all(ctxt)
        assert listed['report_count'] == 1
        assert rpcapi.get_min_version(ctxt, 'nova-compute') == 1
        assert not handled
    finally:
        gate.set()
    # ...and none of it is lost once the heartbeats move again.
    wait_for(lambda: len(handled) == FLOOD)
    conductor.intake.writer.heartbeats.flush()
    (listed,) = rpcapi.service_get_all(ctxt)
    assert listed['report_count'] == 1 + FLOOD


def test_a_conductor_behind_on_its_queue_calls_nobody_down(conductor,
                                                          rpcapi, ctxt):
    """A heartbeat stuck in the queue behind a stuck batch: after
    service_down_time the service is "unknown", not down, because the
    conductor knows it has not read what was sent meanwhile; once the
    intake moves again, the heartbeat is read and the service is up."""
    dbapi = conductor.manager.dbapi
    # Past the hold after the intake connected (progress.resume_hold()).
    wait_for(lambda: dbapi.reports_read_until() is not None)
    registered = rpcapi.register_service(ctxt, report('cn1'))['service']
    gate = threading.Event()
    take_reports = conductor.intake.consumer.take_reports
    conductor.intake.consumer.take_reports = lambda reports: (
        gate.wait(60), take_reports(reports))[1]
    try:
        rpcapi.report_state(ctxt, dict(report('cn1'),
                                       uuid=registered['uuid']))
        time.sleep(CONF.service_down_time + 1)
        (listed,) = rpcapi.service_get_all(ctxt)
        assert listed['state'] == 'unknown'
        assert ('the conductor may not have read every report sent in the '
                'last') in listed['state_reason']
    finally:
        gate.set()
    wait_for(lambda: rpcapi.service_get_all(ctxt)[0]['state'] == 'up')


def test_marks_move_the_read_until_moment_forward(conductor):
    """Marks go round the queue every MARK_INTERVAL and are recorded by
    the flusher; they are not counted as heartbeats."""
    dbapi = conductor.manager.dbapi
    wait_for(lambda: dbapi.reports_read_until() is not None)
    first = dbapi.reports_read_until()
    wait_for(lambda: dbapi.reports_read_until() > first)
    assert timeutils.utcnow() - dbapi.reports_read_until() < (
        datetime.timedelta(seconds=5))
    assert conductor.intake.consumer.counts['received'] == 0


def test_a_mark_from_the_future_or_garbage_is_not_believed():
    moments = []
    reports_intake = intake.ReportIntake(
        lambda reports: 0, types.SimpleNamespace(
            read_up_to=moments.append, suspend=None, hold=None),
        'topic', '1.0', 10)
    future = timeutils.utcnow() + datetime.timedelta(hours=1)
    reports_intake._handle([
        deliveries.Delivery(1, b'', False,
                            {marks.MARK_HEADER: future.isoformat()}),
        deliveries.Delivery(2, b'', False, {marks.MARK_HEADER: 42})])
    (moment,) = moments
    # Believed up to now.
    assert moment <= timeutils.utcnow()
    assert (reports_intake.counts['poison'],
            reports_intake.counts['received']) == (1, 0)


def test_services_registered_elsewhere_are_looked_up_once(conductor, db,
                                                          rpcapi, ctxt):
    """After a restart, or with several conductors, the first heartbeat of
    a service this process never wrote costs a lookup shared by its
    batch, not a transaction of its own."""
    now = timeutils.utcnow()
    services = [db.service_upsert(report('cn%d' % i), now)[0]
                for i in range(50)]
    calls = []
    lookup = db.service_get_by_uuids

    def counted_lookup(uuids):
        calls.append(len(uuids))
        return lookup(uuids)

    conductor.manager.dbapi.service_get_by_uuids = counted_lookup
    gate = threading.Event()
    take_reports = conductor.intake.consumer.take_reports
    conductor.intake.consumer.take_reports = lambda reports: (
        gate.wait(60), take_reports(reports))[1]
    try:
        for _ in range(3):
            for service in services:
                rpcapi.report_state(ctxt, dict(report(service.host),
                                               uuid=service.uuid))
    finally:
        gate.set()
    wait_for(lambda: conductor.intake.consumer.counts['received'] == 150)
    conductor.intake.writer.heartbeats.flush()
    assert sum(calls) <= 50 and len(calls) <= 2
    counts = {s['host']: s['report_count']
              for s in rpcapi.service_get_all(ctxt)}
    assert counts == {service.host: 4 for service in services}


def test_an_intake_knows_the_registered_services_from_its_start(db,
                                                                monkeypatch):
    """A conductor starting in front of a full queue counts heartbeats of
    the services registered before it started without looking them up."""
    now = timeutils.utcnow()
    services = [db.service_upsert(report('cn%d' % i), now)[0]
                for i in range(20)]
    looked_up = []
    lookup = db.service_get_by_uuids
    monkeypatch.setattr(db, 'service_get_by_uuids',
                        lambda uuids: looked_up.append(uuids) or lookup(uuids))
    conductor_intake = service.Intake()
    conductor_intake.start()
    try:
        conductor_intake.writer.take([dict(report(s.host), uuid=s.uuid)
                                      for s in services])
        conductor_intake.writer.heartbeats.flush()
    finally:
        conductor_intake.stop()
    assert looked_up == []
    assert {s.report_count for s in db.service_get_all()} == {2}


def test_poison_is_logged_counted_acknowledged_and_changes_nothing(
        conductor, rpcapi, ctxt, caplog):
    registered = rpcapi.register_service(ctxt, report('cn1'))['service']
    poison = [
        b'\xff\xfe not json',
        b'[1, 2, 3]',
        json.dumps({'oslo.version': '2.0', 'oslo.message': '{'}).encode(),
        json.dumps({'oslo.version': '3.0', 'oslo.message': '{}'}).encode(),
        envelope(method='service_delete',
                 args={'host': 'cn1', 'binary': 'nova-compute'}),
        envelope(version='2.0'),
        envelope(args=['cn1']),
        b'x' * (deliveries.MAX_BODY + 1),
    ]
    caplog.set_level(logging.WARNING, logger='sgconductor')
    publish_raw(poison)
    counts = conductor.intake.consumer.counts
    # Five are not oslo.messaging messages; three are, of another method,
    # version or arguments, and are dispatched as a stock server would.
    wait_for(lambda: (counts['poison'], counts['dispatched']) == (5, 3))
    # The queue moves on: a good heartbeat after the poison is counted.
    rpcapi.report_state(ctxt, dict(report('cn1'), uuid=registered['uuid']))
    wait_for(lambda: counts['received'] == len(poison) + 1)
    conductor.intake.writer.heartbeats.flush()
    (listed,) = rpcapi.service_get_all(ctxt)
    assert listed['report_count'] == 2
    assert listed['host'] == 'cn1' and listed['version'] == 1
    dropped = [r.getMessage() for r in caplog.records
               if 'Dropped a' in r.getMessage()]
    # The first of each reason, in full: two are not oslo.messaging
    # messages.
    assert len(dropped) == len(poison) - 1, dropped
    assert any('not JSON' in line for line in dropped)
    assert any("cast of 'service_delete'" in line and 'NoSuchMethod' in line
               for line in dropped)
    assert any('larger than' in line for line in dropped)


def test_invalid_reports_are_refused_one_by_one(conductor, rpcapi, ctxt):
    rpcapi.register_service(ctxt, report('cn1'))
    publish_raw([envelope(args=report('cn1', version=-1), unique_id='a'),
                 envelope(args=report('cn1', version=2), unique_id='b')])
    wait_for(lambda: conductor.intake.consumer.counts['received'] == 2)
    assert conductor.intake.consumer.counts['refused'] == 1
    (listed,) = rpcapi.service_get_all(ctxt)
    assert listed['version'] == 2


def test_a_redelivered_batch_already_handled_is_not_counted_twice():
    taken = []
    reports_intake = intake.ReportIntake(
        lambda reports: taken.extend(reports) or 0,
        progress.IntakeProgress('unit'), 'topic', '1.0', 10)
    batch = [deliveries.Delivery(i, envelope(unique_id='u%d' % i), False, {})
             for i in range(3)]
    handled = reports_intake._handle(batch)
    # The acknowledgement was lost with the connection...
    reports_intake._unacked |= handled
    redelivered = [d._replace(tag=d.tag + 10, redelivered=True)
                   for d in batch]
    fresh = deliveries.Delivery(20, envelope(unique_id='u9'), False, {})
    reports_intake._handle(redelivered + [fresh])
    assert len(taken) == 4
    assert reports_intake.counts['duplicates'] == 3


def test_a_failing_batch_is_dropped_not_retried_forever(caplog):
    def broken(reports):
        raise RuntimeError('bug')

    reports_intake = intake.ReportIntake(
        broken, progress.IntakeProgress('unit'), 'topic', '1.0', 10)
    batch = [deliveries.Delivery(1, envelope(), False, {})]
    reports_intake._handle(batch)
    assert reports_intake.counts['refused'] == 1
    assert 'Dropped a batch of 1 reports' in caplog.text


def test_the_intake_survives_an_unexpected_failure(conductor, rpcapi, ctxt,
                                                   monkeypatch, caplog):
    """A failure outside any batch (here: opening the receiver) is logged
    and the intake starts over instead of its thread dying."""
    registered = rpcapi.register_service(ctxt, report('cn1'))['service']
    consumer = conductor.intake.consumer
    consumer.stop()
    opened = deliveries.open_receiver
    failures = []

    def fail_once(*args):
        if not failures:
            failures.append(1)
            raise RuntimeError('bug')
        return opened(*args)

    monkeypatch.setattr(deliveries, 'open_receiver', fail_once)
    monkeypatch.setattr(brokerloop, 'RECONNECT_INTERVAL', 0.1)
    consumer.start()
    rpcapi.report_state(ctxt, dict(report('cn1'), uuid=registered['uuid']))
    wait_for(lambda: consumer.counts['received'] == 1)
    assert failures and 'The heartbeat intake failed' in caplog.text


def test_an_unreachable_broker_is_told_once_without_a_traceback(
        conf, monkeypatch, caplog):
    """A refused connection is an outage (kombu wraps it in its
    OperationalError), not a failure of the loop: one line, however many
    attempts."""
    conf.config(transport_url='rabbit://guest:guest@127.0.0.1:1/')
    monkeypatch.setattr(brokerloop, 'RECONNECT_INTERVAL', 0.01)
    attempts = []
    loop = brokerloop.BrokerLoop('probe', attempts.append,
                                 lambda opened: None)
    loop.start(timeout=0.5)
    loop.stop()
    assert not attempts
    assert caplog.text.count('Lost contact with the broker (probe)') == 1
    assert 'starting over' not in caplog.text
    assert 'Traceback' not in caplog.text
