# SPDX-License-Identifier: Apache-2.0
"""A conductor in this process: SQLite and oslo.messaging's in-memory
transport.

The unit tests use these fixtures (tests/unit/conftest.py), and so does the
servicegroup contract suite, which the functional tests run against real
liveness backends. Everything runs against the global cfg.CONF (see
sgconductor.conf for why there is no private ConfigOpts); each test gets
its own overrides, its own conductor topic and a fresh database.
"""

import contextlib
import datetime
import json
import uuid

import kombu
import pytest
import sqlalchemy as sa
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslo_messaging import conffixture as messaging_fixture
from oslo_utils import timeutils

from sgconductor import conf as sg_conf  # noqa: F401  (registers options)
from sgconductor import rpc
from sgconductor import service
from sgconductor.conductor import progress
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.db import migration
from sgconductor.db.sqlalchemy import api as sa_api
from sgconductor.db.sqlalchemy import models

CONF = cfg.CONF


@pytest.fixture
def conf():
    """cfg.CONF with test defaults; every override is undone afterwards."""
    fixture = config_fixture.Config(CONF)
    fixture.setUp()
    messaging_conf = messaging_fixture.ConfFixture(CONF)
    messaging_conf.setUp()
    messaging_conf.transport_url = 'kombu+memory:////'
    CONF([], project='sgconductor', default_config_files=[])
    fixture.config(host='unit-host', report_interval=1, service_down_time=3)
    fixture.config(topic='sgunit-' + uuid.uuid4().hex, call_timeout=2,
                   group='conductor')
    fixture.config(heartbeat_timeout_threshold=0,
                   group='oslo_messaging_rabbit')
    yield fixture
    rpc.cleanup()
    messaging_conf.cleanUp()
    fixture.cleanUp()


@pytest.fixture
def db(conf, tmp_path):
    """A migrated, empty SQLite database behind the db API.

    A file, not ``sqlite://``: in-memory SQLite shares one connection
    between the RPC server's worker threads, which SQLite cannot take.
    """
    sa_api.configure(connection='sqlite:///%s' % (tmp_path / 'sg.sqlite'))
    migration.upgrade()
    yield sa_api
    sa_api.configure()


@pytest.fixture
def conductor(db):
    """A real conductor RPC server on the in-memory transport."""
    transport = rpc.create_transport()
    server = service.Conductor(transport)
    server.start()
    yield server
    server.stop()
    transport.cleanup()


@pytest.fixture
def rpcapi(conductor):
    return conductor_rpcapi.ConductorAPI()


@pytest.fixture
def ctxt():
    return conductor_rpcapi.admin_context()


def envelope(method='report_state', args=None, version='1.0',
             unique_id='u1', **call):
    """What an oslo.messaging client publishes for a cast, or for a call
    given ``_msg_id`` and ``_reply_q`` in ``call``."""
    return json.dumps({'oslo.version': '2.0', 'oslo.message': json.dumps(
        dict({'method': method,
              'args': args if args is not None else report(),
              'version': version, '_unique_id': unique_id,
              '_context_user': None}, **call))}).encode()


def publish_raw(bodies, topic=None):
    """Publish bytes straight to ``topic``'s queue (by default the reports
    topic), as anyone with broker credentials could."""
    queue = rpc.topic_queue(topic or conductor_rpcapi.reports_topic(
        CONF.conductor.topic))
    with rpc.broker_connections()[0] as connection:
        producer = kombu.Producer(connection.channel(), queue.exchange)
        for body in bodies:
            producer.publish(body, routing_key=queue.routing_key,
                             content_type='application/json',
                             content_encoding='utf-8')


def report(host='host1', binary='nova-compute', version=1, **extra):
    return dict({'host': host, 'binary': binary, 'topic': binary,
                 'version': version, 'availability_zone': 'nova'}, **extra)


# What time alone changes in a listed service: the state, judged as of
# now, and the heartbeat bookkeeping.
MOVING = ('state', 'state_reason', 'last_seen_up', 'updated_at',
          'report_count')


def stored(rpcapi, ctxt):
    """The services the conductor lists, without what time alone
    changes: what a refused request must leave as it was."""
    return [{key: value for key, value in service.items()
             if key not in MOVING}
            for service in rpcapi.service_get_all(ctxt)]


def last_seen(dbapi, host, seconds_ago):
    """Make ``host``'s services last seen ``seconds_ago`` by the
    conductor's clock, as if they had been silent since."""
    service = models.Service.__table__
    with dbapi.get_engine().begin() as connection:
        connection.execute(service.update().where(
            service.c.host == host).values(
            last_seen_up=timeutils.utcnow()
            - datetime.timedelta(seconds=seconds_ago)))


@contextlib.contextmanager
def statements(dbapi):
    """The SQL statements ``dbapi`` sends meanwhile (a list, filled in)."""
    seen = []

    def record(conn, cursor, statement, params, context, executemany):
        seen.append(statement.strip())

    engine = dbapi.get_engine()
    sa.event.listen(engine, 'before_cursor_execute', record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, 'before_cursor_execute', record)


def verbs(statements):
    """The first word of each statement: SELECT, UPDATE, ..."""
    return [statement.split()[0].upper() for statement in statements]


def claim(buffer, moment, monkeypatch):
    """Make ``buffer``'s intake a holder (progress.py) without a hold, and
    have it claim every report taken before ``moment``: the next flush
    writes that."""
    monkeypatch.setattr(progress, 'resume_hold', lambda: 0)
    intake = buffer.progress
    if not intake.wait_holding(0):
        intake.start_holding()
        buffer.flush()
    assert intake.read_up_to(moment)


def judged_as_of(dbapi, now):
    """The moment services are judged as of, at ``now``."""
    return dbapi.reports_judged_as_of(now, progress.dropout())
