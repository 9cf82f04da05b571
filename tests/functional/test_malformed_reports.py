# SPDX-License-Identifier: Apache-2.0
"""Malformed report_state casts, and raw poison, over the real broker.

The test process casts through sgconductor's own RPC client, configured on
the global cfg.CONF (overrides undone afterwards) for this deployment's
broker, control exchange and topic.
"""

import json
import time

import kombu
import sqlalchemy as sa
from oslo_config import cfg

from sgconductor import rpc
from sgconductor.conductor import pinning
from sgconductor.conductor import rpcapi as conductor_rpcapi

VALID = {'host': 'valid-host', 'binary': 'nova-compute',
         'topic': 'nova-compute', 'version': 4, 'availability_zone': 'nova'}

# (what is wrong, the field the warning must name, the payload)
BAD_REPORTS = [
    ('missing host', 'host',
     {k: v for k, v in VALID.items() if k != 'host'}),
    ('host as int', 'host', dict(VALID, host=42)),
    ('300-character binary', 'binary',
     dict(VALID, host='bad-binary', binary='b' * 300)),
    ('version -1', 'version', dict(VALID, host='bad-version', version=-1)),
    ('version "2"', 'version',
     dict(VALID, host='bad-version-str', version='2')),
    ('unknown field', 'colour', dict(VALID, host='bad-field', colour='red')),
]

WARNING_MARK = ' WARNING sgconductor.conductor.rejected '
TIMEOUT = 20


def _warnings(deployment):
    return [line for line in deployment.read_log('conductor').splitlines()
            if WARNING_MARK in line]


def _rows(deployment):
    """Every row but the conductor's own."""
    engine = sa.create_engine(deployment.db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(
                'SELECT host, %s, version, deleted FROM services'
                % engine.dialect.identifier_preparer.quote('binary')))
                if row[1] != pinning.CONDUCTOR_BINARY]
    finally:
        engine.dispose()


def test_malformed_reports_are_dropped(deployment, client):
    # Casts to a queue nobody declared are dropped: start_conductor waits
    # until the conductor consumes and answers a service list.
    conductor = deployment.start_conductor()
    ctxt = conductor_rpcapi.admin_context()
    for _, _, report in BAD_REPORTS:
        client.report_state(ctxt, report)
    client.report_state(ctxt, VALID)

    services = deployment.wait_for_services(
        'the valid report to register', lambda s: VALID['host'] in s,
        TIMEOUT)
    # Counted, and logged at a bounded rate: the first in full.
    counted = deployment.wait_for(
        'the refused reports to be counted',
        lambda: (lambda c: c if c.get('invalid_report') == len(BAD_REPORTS)
                 else None)(_rejected(client)), TIMEOUT, interval=0.5)

    assert conductor.running(), deployment.describe()
    assert set(services) == {VALID['host']}
    assert services[VALID['host']]['version'] == VALID['version']
    assert _rows(deployment) == [(VALID['host'], VALID['binary'],
                                  VALID['version'], 0)]
    assert counted == {'invalid_report': len(BAD_REPORTS)}
    warnings = _warnings(deployment)
    assert len(warnings) == 1, '\n'.join(warnings)
    assert 'Dropped report: ' in warnings[0], warnings[0]
    assert any(': %s ' % field in warnings[0]
               for _, field, _ in BAD_REPORTS), warnings[0]
    assert 'Traceback' not in deployment.read_log('conductor')


def _rejected(client):
    """{reason: count} of the messages the conductor host rejected, as
    /metrics shows them (written down every few seconds)."""
    stats = client.get_service_stats(conductor_rpcapi.admin_context())
    counted = {}
    for by_reason in stats['counters'].get('rejected_messages', {}).values():
        for reason, count in by_reason.items():
            counted[reason] = counted.get(reason, 0) + count
    return counted


def _publish_raw(bodies):
    """Publish bytes straight to the conductor's reports queue, as anyone
    holding broker credentials could (cfg.CONF set up by ``client``)."""
    queue = rpc.topic_queue(conductor_rpcapi.reports_topic(
        cfg.CONF.conductor.topic))
    with rpc.broker_connections()[0] as connection:
        producer = kombu.Producer(connection.channel(), queue.exchange)
        for body in bodies:
            producer.publish(body, routing_key=queue.routing_key,
                             content_type='application/json')
        return queue(connection.channel()).queue_declare(passive=True)


def _envelope(method, args, version='1.0'):
    return json.dumps({'oslo.version': '2.0', 'oslo.message': json.dumps(
        {'method': method, 'args': args, 'version': version,
         '_unique_id': 'raw'})})


RAW_POISON = [
    b'\x00\x01\x02 binary garbage',
    b'{"not": "an envelope"}',
    _envelope('service_delete', {'host': VALID['host'],
                                 'binary': VALID['binary']}),
    _envelope('report_state', dict(VALID, version=1), version='9.0'),
    b'[' * (1024 * 1024),
]


def test_raw_poison_is_dropped_once_and_the_queue_moves_on(deployment,
                                                           client):
    """Each of a different reason: each logged once, in full."""
    conductor = deployment.start_conductor()
    ctxt = conductor_rpcapi.admin_context()
    registered = client.register_service(ctxt, VALID)['service']

    _publish_raw(RAW_POISON)
    client.report_state(ctxt, dict(VALID, uuid=registered['uuid']))
    deployment.wait_for_services(
        'the heartbeat after the poison to be counted',
        lambda s: s.get(VALID['host'], {}).get('report_count') == 2,
        TIMEOUT)

    def dropped():
        lines = [line for line in deployment.read_log('conductor')
                 .splitlines() if WARNING_MARK in line
                 and 'Dropped a ' in line]
        return lines if len(lines) >= len(RAW_POISON) else None

    lines = deployment.wait_for('poison warnings', dropped, TIMEOUT)
    # Acknowledged, so never delivered again: still one line each, and
    # nothing left in the queue.
    time.sleep(2)
    assert len(dropped()) == len(RAW_POISON), '\n'.join(lines)
    assert _publish_raw([]).message_count == 0
    assert conductor.running(), deployment.describe()
    assert _rows(deployment) == [(VALID['host'], VALID['binary'],
                                  VALID['version'], 0)]
    assert 'Traceback' not in deployment.read_log('conductor')


# Of each kind of garbage, FLOOD of them, with a valid heartbeat every
# HEARTBEAT_EVERY messages.
FLOOD = 2500
HEARTBEAT_EVERY = 100


def test_a_flood_of_garbage_writes_a_few_lines_and_loses_nothing(
        deployment, client):
    conductor = deployment.start_conductor()
    ctxt = conductor_rpcapi.admin_context()
    registered = client.register_service(ctxt, VALID)['service']
    heartbeat = _envelope('report_state', dict(VALID,
                                               uuid=registered['uuid']))
    kinds = [b'\x00 garbage', b'{"not": "an envelope"}',
             _envelope('no_such_method', {}),
             _envelope('report_state', dict(VALID, host=42))]
    bodies = []
    for number in range(FLOOD * len(kinds)):
        bodies.append(kinds[number % len(kinds)])
        if number % HEARTBEAT_EVERY == 0:
            bodies.append(heartbeat)
    heartbeats = bodies.count(heartbeat)
    _publish_raw(bodies)

    deployment.wait_for_services(
        'every heartbeat among the garbage to be counted',
        lambda s: s.get(VALID['host'], {}).get('report_count')
        == 1 + heartbeats, 60)
    counted = deployment.wait_for(
        'the garbage to be counted',
        lambda: (lambda c: c if sum(c.values()) == FLOOD * len(kinds)
                 else None)(_rejected(client)), TIMEOUT, interval=0.5)
    assert counted == {'not_json': FLOOD, 'not_oslo_message': FLOOD,
                       'NoSuchMethod': FLOOD, 'invalid_report': FLOOD}
    # The first of each reason in full, and a summary a minute at most.
    warnings = _warnings(deployment)
    assert len(warnings) <= len(kinds) + 2, '\n'.join(warnings)
    assert conductor.running(), deployment.describe()
    assert 'Traceback' not in deployment.read_log('conductor')
