# SPDX-License-Identifier: Apache-2.0
"""Migrations on SQLite; the functional suite runs them on MariaDB and
PostgreSQL."""

import tempfile
import unittest

import pytest
import sqlalchemy as sa
from oslo_db.sqlalchemy import test_migrations

from sgconductor import exception
from sgconductor.db import migration
from sgconductor.db.sqlalchemy import models


@pytest.fixture
def engine(tmp_path):
    engine = sa.create_engine('sqlite:///%s' % (tmp_path / 'm.sqlite'))
    yield engine
    engine.dispose()


def test_empty_database_has_no_version_and_is_not_ready(engine):
    assert migration.version(engine) is None
    with pytest.raises(exception.DatabaseNotReady, match='db sync'):
        migration.check_at_head(engine)


def test_upgrade_reaches_head_and_is_idempotent(engine):
    migration.upgrade(engine=engine)
    assert migration.version(engine) == migration.head()
    migration.upgrade(engine=engine)
    assert migration.version(engine) == migration.head()
    migration.check_at_head(engine)


class TestModelsMatchMigrations(test_migrations.ModelsMigrationsSync,
                                unittest.TestCase):
    """alembic's autogenerate comparison finds no difference."""

    def setUp(self):
        super().setUp()
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.engine = sa.create_engine('sqlite:///%s/s.sqlite' % tmp.name)
        self.addCleanup(self.engine.dispose)

    def get_engine(self):
        return self.engine

    def get_metadata(self):
        return models.Base.metadata

    def db_sync(self, engine):
        migration.upgrade(engine=engine)
