# SPDX-License-Identifier: Apache-2.0
"""Passwords in transport, database and liveness backend URLs never reach
a log file or a command's output, whether things work or fail.

A deployment whose broker user (made by tools/test-setup.sh) and database
URL carry passwords found nowhere else runs with ``debug`` on everywhere
(oslo.config logs every option then): conductor, compute, API, CLI and
sgconductor-status. Then come the failures that print what they were
given: a refused broker password, a refused database password, a
transport URL that cannot be parsed; and a compute joins a liveness
backend with a password. Every log file and every output is searched for
each password, also URL-quoted.
"""

import glob
import os
import urllib.parse

import pytest

from tests.functional import databases
from tests.functional import deployment as sg_deployment
from tests.functional import tcp_proxy

# Made by tools/test-setup.sh (keep in sync).
SECRET_BROKER_USER = 'sgconductor-secrets'
SECRET_BROKER_PASSWORD = 'Rabbit-S3cret-5d81'
# PostgreSQL trusts local connections: any password logs in.
DB_PASSWORD = 'Db-S3cret-93ae'
WRONG_BROKER_PASSWORD = 'Wrong-Rabbit-S3cret-0c17'
WRONG_DB_PASSWORD = 'Wrong-Db-S3cret-4b62'
BAD_URL_PASSWORD = 'Unparsed-S3cret-71f0'
BACKEND_PASSWORD = 'Redis-S3cret-e5a9'
SECRETS = (SECRET_BROKER_PASSWORD, DB_PASSWORD, WRONG_BROKER_PASSWORD,
           WRONG_DB_PASSWORD, BAD_URL_PASSWORD, BACKEND_PASSWORD)
TIMEOUT = 30


@pytest.fixture
def backend():
    return 'postgresql'


@pytest.fixture
def secret_deployment(request, broker, database, tmp_path):
    deployment = sg_deployment.Deployment(
        tmp_path, database.set(password=DB_PASSWORD),
        transport_url=broker_url(SECRET_BROKER_PASSWORD),
        sections={'DEFAULT': {'debug': 'true'}})
    request.node.sg_deployment = deployment
    deployment.db_sync()
    yield deployment
    deployment.cleanup()


def broker_url(password, port=None):
    host, default_port = tcp_proxy.server_address(
        sg_deployment.TRANSPORT_URL, 5672)
    return 'rabbit://%s:%s@%s:%s/' % (SECRET_BROKER_USER, password, host,
                                      port or default_port)


def failing(d, name, sections, *args, script='sgconductor-manage'):
    """Run a command with ``sections`` added; it must fail. Its output."""
    config = d.write_config(name + '.conf', sections)
    result = d.manage(*args, script=script, config=config)
    assert result.returncode != 0, result.stdout
    print('%s: %s' % (name, sg_deployment.one_line(result.stderr)))
    return result.stdout + result.stderr


def test_no_password_is_ever_shown(secret_deployment, tmp_path):
    d = secret_deployment
    outputs = []
    d.start_conductor()
    d.start_compute('cn1', '--host', 'cn1')
    d.start_api(sections={'api': {'auth_strategy': 'noauth'}})
    d.wait_for_services('the compute up',
                        lambda s: s.get('cn1', {}).get('state') == 'up',
                        TIMEOUT)
    for args in (('service', 'list'),
                 ('service', 'disable', 'nowhere', 'nova-compute')):
        result = d.manage(*args)
        outputs.append(result.stdout + result.stderr)
    result = d.manage('upgrade', 'check', script='sgconductor-status')
    outputs.append(result.stdout + result.stderr)

    outputs.append(failing(d, 'wrong-broker-password', {'DEFAULT': {
        'transport_url': broker_url(WRONG_BROKER_PASSWORD)}},
        'service', 'list'))
    outputs.append(failing(d, 'unparsable-url', {'DEFAULT': {
        'transport_url': broker_url(BAD_URL_PASSWORD, port='port')}},
        'service', 'list'))
    mysql = databases.admin_url('mysql').set(password=WRONG_DB_PASSWORD,
                                             username='sgconductor')
    outputs.append(failing(d, 'wrong-db-password', {'database': {
        'connection': mysql.render_as_string(hide_password=False)}},
        'db', 'sync'))
    # A liveness backend URL with a password (this Redis takes any).
    d.start_compute('cn2', '--host', 'cn2', sections={
        'servicegroup': {'driver': 'tooz',
                         'backend_url': 'redis://:%s@127.0.0.1:6379'
                                        '?timeout=2' % BACKEND_PASSWORD}})
    d.wait_for('the compute with a backend password registered',
               lambda: 'Registered nova-compute on cn2' in d.read_log(
                   'compute-cn2'), TIMEOUT)
    d.cleanup()

    shown = outputs + [open(path, errors='replace').read()
                       for pattern in ('*.log', '*.out')
                       for path in glob.glob(os.path.join(d.workdir,
                                                          pattern))]
    assert any('DEBUG' in text for text in shown), 'debug was not on'
    leaks = [(secret, text[max(0, text.find(form) - 200):
                           text.find(form) + 100])
             for secret in SECRETS
             for form in {secret, urllib.parse.quote(secret)}
             for text in shown if form in text]
    assert not leaks, leaks[:3]
