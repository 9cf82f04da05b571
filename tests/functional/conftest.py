# SPDX-License-Identifier: Apache-2.0
"""Fixtures for functional tests: real processes, broker and databases.

The tests start the installed console scripts against the RabbitMQ, MariaDB
and PostgreSQL servers that ``tools/test-setup.sh`` prepares. A server that
cannot be reached fails the tests that need it; nothing is skipped.

Run with::

    pytest tests/functional -q -p no:cacheprovider
"""

import pytest

from sgconductor import conf as sg_conf  # noqa: F401  (registers options)
from tests.functional import databases
from tests.functional import deployment as sg_deployment
from tests.functional import tcp_proxy


@pytest.fixture(scope='session')
def _servers():
    """Admin connections per backend, opened on first use."""
    servers = {}
    yield servers
    for server in servers.values():
        if isinstance(server, databases.Server):
            server.dispose()


@pytest.fixture(scope='session')
def broker():
    """Fails (never skips) the tests that need RabbitMQ if it is not up."""
    problem = sg_deployment.broker_problem()
    if problem:
        pytest.fail('cannot log in to RabbitMQ at %s (set '
                    'SGCONDUCTOR_TEST_TRANSPORT_URL to override): %s; run '
                    'tools/test-setup.sh'
                    % (databases.safe_url(sg_deployment.TRANSPORT_URL),
                       problem), pytrace=False)


@pytest.fixture(params=databases.BACKENDS)
def backend(request):
    return request.param


def _fresh_database(backend, servers):
    """URL of a fresh, empty database on ``backend``; dropped afterwards."""
    server = servers.get(backend)
    if server is None:
        try:
            server = databases.Server(backend)
        except databases.Unreachable as exc:
            # Remember the failure: later tests fail fast, just as loudly.
            server = exc
        servers[backend] = server
    if isinstance(server, databases.Unreachable):
        pytest.fail(str(server), pytrace=False)
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def database(backend, _servers):
    """URL of a fresh, empty database on ``backend``; dropped afterwards."""
    yield from _fresh_database(backend, _servers)


@pytest.fixture
def other_database(backend, _servers):
    """Another one, on the same server."""
    yield from _fresh_database(backend, _servers)


# Where each backend's server listens unless its URL says.
DEFAULT_PORTS = {'postgresql': 5432, 'mysql': 3306}


@pytest.fixture
def db_proxy(database, backend):
    """A TCP proxy in front of ``database``'s server (``tcp_proxy.py``),
    for a conductor whose link to it a test cuts."""
    proxy = tcp_proxy.TcpProxy(database.render_as_string(
        hide_password=False), DEFAULT_PORTS[backend])
    proxy.start()
    yield proxy
    proxy.close()


def _track(request, deployment):
    request.node.sg_deployment = deployment
    return deployment


@pytest.fixture
def unsynced_deployment(request, broker, database, tmp_path):
    """A deployment on an empty database (no ``db sync`` run)."""
    deployment = sg_deployment.Deployment(tmp_path, database)
    _track(request, deployment)
    yield deployment
    deployment.cleanup()


@pytest.fixture
def deployment(unsynced_deployment):
    """A deployment whose database ``sgconductor-manage db sync`` made."""
    unsynced_deployment.db_sync()
    return unsynced_deployment


@pytest.fixture
def brokered_deployment(request, broker, tmp_path):
    """A deployment with no database, for CLI commands that never open it."""
    deployment = sg_deployment.Deployment(tmp_path)
    _track(request, deployment)
    yield deployment
    deployment.cleanup()


@pytest.fixture
def client(deployment):
    """A ConductorAPI on cfg.CONF, aimed at the deployment's conductor."""
    with sg_deployment.configured_client(deployment) as conductor_api:
        yield conductor_api


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach every process's log tail to a failed test's report."""
    report = yield
    deployment = getattr(item, 'sg_deployment', None)
    if report.failed and deployment is not None:
        report.sections.append(('sgconductor processes',
                                deployment.describe()))
    return report
