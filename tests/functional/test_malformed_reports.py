"""Malformed report_state casts over the real broker.

The test process casts through sgconductor's own RPC client, configured on
the global cfg.CONF (overrides undone afterwards) for this deployment's
broker, control exchange and topic.
"""

import pytest
import sqlalchemy as sa
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslo_messaging import conffixture as messaging_fixture

from sgconductor import conf as sg_conf  # noqa: F401  (registers options)
from sgconductor import rpc
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

WARNING_MARK = ' WARNING sgconductor.conductor.manager '
TIMEOUT = 20


@pytest.fixture
def client(deployment):
    """A ConductorAPI on cfg.CONF, aimed at the deployment's conductor."""
    conf = cfg.CONF
    fixture = config_fixture.Config(conf)
    fixture.setUp()
    messaging_conf = messaging_fixture.ConfFixture(conf)
    messaging_conf.setUp()
    try:
        conf([], project='sgconductor', default_config_files=[])
        messaging_conf.transport_url = deployment.transport_url
        fixture.config(control_exchange=deployment.topic)
        fixture.config(topic=deployment.topic, group='conductor')
        fixture.config(amqp_auto_delete=True, group='oslo_messaging_rabbit')
        yield conductor_rpcapi.ConductorAPI()
    finally:
        rpc.cleanup()
        messaging_conf.cleanUp()
        fixture.cleanUp()


def _warnings(deployment):
    return [line for line in deployment.read_log('conductor').splitlines()
            if WARNING_MARK in line]


def _rows(deployment):
    engine = sa.create_engine(deployment.db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(
                'SELECT host, %s, version, deleted FROM services'
                % engine.dialect.identifier_preparer.quote('binary')))]
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
    # The valid report came last, but the conductor dispatches on a
    # thread pool: wait for every warning too.
    warnings = deployment.wait_for(
        '%d warnings' % len(BAD_REPORTS),
        lambda: (lambda w: w if len(w) >= len(BAD_REPORTS) else None)(
            _warnings(deployment)), TIMEOUT, interval=0.1)

    assert conductor.running(), deployment.describe()
    assert set(services) == {VALID['host']}
    assert services[VALID['host']]['version'] == VALID['version']
    assert _rows(deployment) == [(VALID['host'], VALID['binary'],
                                  VALID['version'], 0)]

    assert len(warnings) == len(BAD_REPORTS), '\n'.join(warnings)
    dropped = [line.split('Dropped report: ', 1)[-1] for line in warnings]
    unexplained = list(dropped)
    for what, field, _ in BAD_REPORTS:
        matches = [d for d in unexplained if ': %s ' % field in d]
        assert matches, 'no warning names %r (%s):\n%s' % (
            field, what, '\n'.join(warnings))
        unexplained.remove(matches[0])
    assert 'Traceback' not in deployment.read_log('conductor')
