# SPDX-License-Identifier: Apache-2.0
"""Every stock client gets from the conductor's own servers what a stock
oslo.messaging RPC server would give it (doc/rpc-api.rst,
"Compatibility").

The conductor takes its reports, versions and registrations topics off
RabbitMQ itself, for speed (intake.py, callserver.py). A matrix of
messages (unversioned, each supported version, a newer minor, a
revision, the next major, another namespace, bad arguments, another
method of the manager, a method nobody has; each as a call and as a
cast, on each of those topics) is sent by a stock oslo.messaging client
(no serializer, no exception module allowed: a client the project did
not write) once to the conductor, and once to the same topics of another
configuration, served by stock oslo.messaging RPC servers over the same
endpoints and a database of their own (``stock_server.py``). Each
outcome, the result or the class of the exception raised, must be the
same, and so must every row the messages changed.
"""

import os
import sys

import oslo_messaging as messaging
import pytest
import sqlalchemy as sa
from oslo_config import cfg

from sgconductor.conductor import manager
from sgconductor.conductor import pinning
from sgconductor.conductor import rpcapi
from tests.functional import deployment as sg_deployment

CALL_TIMEOUT = 10
# Seconds for the casts of both sides to reach their databases.
SETTLE_TIMEOUT = 30
STOCK_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            'stock_server.py')
STOCK_READY = 'Stock RPC servers consuming'

_MAJOR, _MINOR = (int(part) for part in manager.RPC_API_VERSION.split('.'))
# None: the client's Target has no version, and oslo.messaging sends none.
VERSIONS = ([None] + ['%d.%d' % (_MAJOR, minor)
                      for minor in range(_MINOR + 1)]
            + ['%d.%d' % (_MAJOR, _MINOR + 1),
               '%d.%d.1' % (_MAJOR, _MINOR),
               '%d.0' % (_MAJOR + 1)])
# What differs between two databases given the same writes.
VOLATILE = {'id', 'uuid', 'created_at', 'updated_at', 'deleted_at',
            'last_seen_up', 'clock_skew'}


def _report(host):
    return {'host': host, 'binary': 'nova-compute', 'topic': 'compute',
            'version': 4, 'availability_zone': 'nova'}


def _binaries(host):
    return {'binaries': ['nova-compute']}


# topic of rpcapi -> (its methods, the good arguments of each)
TOPICS = {
    'registrations': (rpcapi.registrations_topic,
                      {'register_service': _report}),
    'reports': (rpcapi.reports_topic, {'report_state': _report}),
    'versions': (rpcapi.versions_topic,
                 {'get_min_version': _binaries, 'get_max_version': _binaries}),
}


def matrix(kind):
    """(label, method, args, version, namespace) of every message sent
    to topic ``kind``, each with a host of its own."""
    methods = TOPICS[kind][1]
    cases = []
    for method, good in methods.items():
        cases += [('%s v%s' % (method, version), method, good, version, None)
                  for version in VERSIONS]
        cases += [('%s in another namespace' % method, method, good, '1.0',
                   'other'),
                  ('%s with bad arguments' % method, method,
                   lambda host: {'bogus': 1}, '1.0', None)]
    cases += [('service_delete, not served here', 'service_delete',
               lambda host: {'host': host, 'binary': 'nova-compute'},
               '1.0', None),
              ('a method nobody has', 'no_such_method', lambda host: {},
               '1.0', None)]
    return [(label, method, args('%s-%d' % (kind, number)), version,
             namespace)
            for number, (label, method, args, version, namespace)
            in enumerate(cases)]


def _normalized(value):
    if isinstance(value, dict):
        return {key: '<%s>' % key if key in VOLATILE else _normalized(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    return value


def outcome(client, mode, method, args):
    """What the caller sees: ('returned', result), ('raised', class name)
    or ('cast', None)."""
    try:
        if mode == 'cast':
            client.cast({}, method, **args)
            return ('cast', None)
        return ('returned', _normalized(client.call({}, method, **args)))
    except messaging.RemoteError as exc:
        return ('raised', exc.exc_type)
    except Exception as exc:
        return ('raised', type(exc).__name__.removesuffix('_Remote'))


def rows(url):
    """Every service row but the conductors' own, as comparable tuples."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return sorted(tuple(row) for row in conn.execute(sa.text(
                'SELECT host, topic, version, availability_zone, disabled, '
                'deleted, report_count FROM services WHERE %s <> :own'
                % engine.dialect.identifier_preparer.quote('binary')),
                {'own': pinning.CONDUCTOR_BINARY}))
    finally:
        engine.dispose()


@pytest.fixture(params=['postgresql'])
def backend(request):
    """One backend: what is compared is the messaging."""
    return request.param


@pytest.fixture
def stock(deployment, other_database):
    """Stock RPC servers of the conductor's topics, under another
    conductor topic, over a database of their own."""
    topic = deployment.topic + '-stock'
    database = {'connection': other_database.render_as_string(
        hide_password=False)}
    config = deployment.write_config('stock-sync.conf',
                                     {'database': database})
    result = deployment.manage('db', 'sync', config=config)
    assert result.returncode == 0, result.stderr
    deployment.start_command('stock', [sys.executable, STOCK_SERVER],
                             sections={'conductor': {'topic': topic},
                                       'database': database})
    deployment.wait_for('the stock servers to consume',
                        lambda: STOCK_READY in deployment.read_log('stock'),
                        30, interval=0.2)
    return topic, other_database


def _clients(topic):
    transport = messaging.get_rpc_transport(cfg.CONF)
    return transport, {
        kind: messaging.get_rpc_client(
            transport, messaging.Target(topic=name(topic)),
            timeout=CALL_TIMEOUT)
        for kind, (name, _) in TOPICS.items()}


def test_stock_clients_see_what_a_stock_server_would_give(deployment,
                                                           stock):
    stock_topic, stock_database = stock
    deployment.start_conductor()
    outcomes = {}
    with sg_deployment.configured_client(deployment):
        sides = {'conductor': _clients(deployment.topic),
                 'stock': _clients(stock_topic)}
        try:
            # Registrations and reports first: the versions asked last
            # are of the services they wrote, on each side.
            for kind in ('registrations', 'reports', 'versions'):
                if kind == 'versions':
                    _settled(deployment, stock_database)
                for label, method, args, version, namespace in matrix(kind):
                    for mode in ('call', 'cast'):
                        for side, (_, clients) in sides.items():
                            client = clients[kind].prepare(
                                version=version, namespace=namespace)
                            outcomes.setdefault(
                                (kind, label, mode), {})[side] = outcome(
                                    client, mode, method, args)
        finally:
            for transport, _ in sides.values():
                transport.cleanup()
    differ = ['%s %s as a %s: conductor %r, stock %r'
              % (kind, label, mode, got['conductor'], got['stock'])
              for (kind, label, mode), got in outcomes.items()
              if got['conductor'] != got['stock']]
    assert not differ, '\n'.join(differ)
    # A call always gets an answer.
    assert not [key for key, got in outcomes.items()
                if got['stock'] == ('raised', 'MessagingTimeout')]
    conductor_rows, stock_rows = _settled(deployment, stock_database)
    assert conductor_rows == stock_rows
    # The matrix did write, and refuse: rows of some hosts, not others.
    assert len(conductor_rows) > 10
    assert 'Traceback' not in deployment.read_log('conductor')


def _settled(deployment, stock_database):
    """The rows of both sides once they are the same (or, after
    SETTLE_TIMEOUT, as they are)."""
    found = []

    def same():
        found[:] = [rows(deployment.db_url), rows(stock_database)]
        return found[0] == found[1]
    try:
        deployment.wait_for('both databases to hold the same rows', same,
                            SETTLE_TIMEOUT, interval=0.5)
    except AssertionError:
        pass   # the caller compares them and shows the difference
    return found
