# SPDX-License-Identifier: Apache-2.0
"""sgconductor-status upgrade check, run as the operator runs it, against
a SQLite database the test arranges (the command only reads it)."""

import datetime
import json
import subprocess

import pytest
import sqlalchemy as sa
from alembic import script as alembic_script
from oslo_utils import timeutils

from sgconductor.db import migration
from sgconductor.db.sqlalchemy import api as sa_api
from sgconductor.db.sqlalchemy import models
from tests.functional import processes
from tests.inprocess import report

SUCCESS, WARNING, FAILURE, ERROR = 0, 1, 2, 255


@pytest.fixture
def database(conf, tmp_path):
    """The URL of an empty SQLite database and a config file naming it."""
    url = 'sqlite:///%s' % (tmp_path / 'sg.sqlite')
    config = tmp_path / 'sgconductor.conf'
    config.write_text('[database]\nconnection = %s\n' % url)
    sa_api.configure(connection=url)
    yield str(config)
    sa_api.configure()


def status(config, *args):
    return subprocess.run(
        [processes.console_script('sgconductor-status'), '--config-file',
         config] + list(args), capture_output=True, text=True, timeout=60)


def checks(config):
    result = status(config, 'upgrade', 'check', '--json')
    output = json.loads(result.stdout)
    return result.returncode, {c['check']: (c['result'], c['details'])
                               for c in output['checks']}


def add_service(host, version, seconds_ago=0, binary='nova-compute'):
    """A row as the conductor would have written it."""
    seen = timeutils.utcnow() - datetime.timedelta(seconds=seconds_ago)
    sa_api.service_upsert(report(host, binary=binary, version=version),
                          seen)


def test_a_ready_deployment_passes(database):
    migration.upgrade()
    add_service('cn1', 2)
    code, results = checks(database)
    assert code == SUCCESS
    assert results == {'Database schema': (SUCCESS, None),
                       'Service versions': (SUCCESS, None),
                       'Stale services': (SUCCESS, None)}


def test_an_empty_database_fails_with_what_to_run(database):
    code, results = checks(database)
    assert code == FAILURE
    result, details = results['Database schema']
    assert result == FAILURE
    assert 'run "sgconductor-manage db sync"' in details
    for check in ('Service versions', 'Stale services'):
        result, details = results[check]
        assert result == FAILURE
        assert 'run "sgconductor-manage db sync"' in details


def test_a_schema_one_revision_behind_fails_with_what_to_run(database):
    """The services table is there, a newer table is not."""
    scripts = alembic_script.ScriptDirectory.from_config(
        migration._config(None))
    migration.upgrade(scripts.get_revision(migration.head()).down_revision)
    code, results = checks(database)
    assert code == FAILURE
    assert {check: result for check, (result, _) in results.items()} == {
        'Database schema': FAILURE, 'Service versions': FAILURE,
        'Stale services': FAILURE}
    assert all('run "sgconductor-manage db sync"' in details
               for _, details in results.values())


def test_running_services_too_old_fail(database):
    migration.upgrade()
    add_service('cn1', 2)
    add_service('ancient', 0)
    # Too old but dead for two days: that is the stale check's business.
    add_service('ancient-gone', 0, seconds_ago=2 * 86400)
    code, results = checks(database)
    assert code == FAILURE
    result, details = results['Service versions']
    assert result == FAILURE
    assert 'nova-compute on ancient (version 0)' in details
    assert 'ancient-gone' not in details


def test_stale_services_warn_with_the_command_that_removes_them(database):
    migration.upgrade()
    add_service('cn1', 2)
    for i in range(12):
        add_service('gone%02d' % i, 2, seconds_ago=86400 + 60)
    code, results = checks(database)
    assert code == WARNING
    result, details = results['Stale services']
    assert result == WARNING
    assert details.startswith('12 service(s) sent no report for over '
                              '86400 s')
    assert 'sgconductor-manage service delete gone00 nova-compute' in details
    assert 'and 2 more' in details
    assert '--down-for 86400s' in details


def test_status_only_reads(database):
    migration.upgrade()
    add_service('gone', 0, seconds_ago=3 * 86400)
    engine = sa.create_engine(sa_api.get_engine().url)
    service = models.Service.__table__
    with engine.connect() as connection:
        before = connection.execute(sa.select(service)).all()
    checks(database)
    with engine.connect() as connection:
        assert connection.execute(sa.select(service)).all() == before
    engine.dispose()


def test_table_output_and_help(database):
    migration.upgrade()
    result = status(database, 'upgrade', 'check')
    assert result.returncode == SUCCESS
    assert 'Check: Database schema' in result.stdout
    assert 'Result: Success' in result.stdout
    for args in (['--help'], ['upgrade', '--help']):
        result = status(database, *args)
        assert result.returncode == 0
        assert result.stdout.startswith('usage: sgconductor-status')


def test_bad_configuration_is_one_line(tmp_path):
    config = tmp_path / 'bad.conf'
    config.write_text('[conductor]\ndead_after = soon\n')
    result = status(str(config), 'upgrade', 'check')
    assert result.returncode == ERROR
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert '[conductor] dead_after' in result.stderr
    assert 'Traceback' not in result.stderr
