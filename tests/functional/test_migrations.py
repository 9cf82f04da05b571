# SPDX-License-Identifier: Apache-2.0
"""`sgconductor-manage db sync` on real MariaDB and PostgreSQL databases."""

import unittest

import sqlalchemy as sa
from alembic import script as alembic_script
from oslo_db.sqlalchemy import test_migrations

from sgconductor.db import migration
from sgconductor.db.sqlalchemy import models


def _alembic_versions(engine):
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(
            sa.text('SELECT version_num FROM alembic_version'))]


def _models_sync_failures(engine, db_sync):
    """Run oslo.db's ModelsMigrationsSync on ``engine``; its failures."""

    class ModelsSync(test_migrations.ModelsMigrationsSync, unittest.TestCase):
        def get_engine(self):
            return engine

        def get_metadata(self):
            return models.Base.metadata

        def db_sync(self, engine):
            db_sync()

    result = unittest.TestResult()
    ModelsSync('test_models_sync').run(result)
    return [text for _, text in result.failures + result.errors]


def test_db_sync_reaches_head_and_matches_models(unsynced_deployment):
    deployment = unsynced_deployment
    head = migration.head()
    assert head

    out = deployment.db_sync()
    assert head in out
    assert deployment.manage_ok('db', 'version').strip() == head

    engine = sa.create_engine(deployment.db_url, poolclass=sa.pool.NullPool)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        assert tables == {'alembic_version', 'services', 'report_progress',
                          'report_intakes', 'conductor_counters'}
        # A second sync is a no-op.
        assert head in deployment.db_sync()
        assert _alembic_versions(engine) == [head]
        assert set(sa.inspect(engine).get_table_names()) == tables

        # The migrated schema matches the models: types, nullability,
        # indexes, constraints (ModelsMigrationsSync's own sync step has
        # nothing left to do).
        failures = _models_sync_failures(engine, lambda: None)
        assert not failures, '\n'.join(failures)
    finally:
        engine.dispose()


def _previous(revision):
    return alembic_script.ScriptDirectory.from_config(
        migration._config(None)).get_revision(revision).down_revision


def test_the_upgrade_check_says_to_sync_before_db_sync(unsynced_deployment):
    """On a database never synced, and on one a revision behind, every
    check fails with what to run (exit 2), no traceback."""
    deployment = unsynced_deployment
    engine = sa.create_engine(deployment.db_url, poolclass=sa.pool.NullPool)
    try:
        for arrange in (lambda: None, lambda: migration.upgrade(
                _previous(migration.head()), engine=engine)):
            arrange()
            result = deployment.manage('upgrade', 'check',
                                       script='sgconductor-status')
            assert result.returncode == 2, (result.stdout, result.stderr)
            assert result.stdout.count(
                'run "sgconductor-manage db sync"') == 3, result.stdout
            assert 'Traceback' not in result.stdout + result.stderr
    finally:
        engine.dispose()
