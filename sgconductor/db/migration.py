# SPDX-License-Identifier: Apache-2.0
"""Schema migrations: ``sgconductor-manage db sync`` and ``db version``.

The alembic scripts ship inside the package
(``db/sqlalchemy/alembic``), so an installed conductor can migrate its own
database without a source checkout.
"""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script
from oslo_db import exception as db_exc
from sqlalchemy import exc as sa_exc

from sgconductor import exception
from sgconductor.db.sqlalchemy import api as sa_api

# What a missing, unreachable or misconfigured database raises.
DB_ERRORS = (db_exc.DBError, sa_exc.SQLAlchemyError)

_INI = os.path.join(os.path.dirname(__file__), 'sqlalchemy', 'alembic.ini')


def _config(connection):
    config = alembic_config.Config(_INI)
    config.attributes['connection'] = connection
    return config


def upgrade(revision='head', engine=None):
    """Migrate the database to ``revision`` (the newest by default)."""
    engine = engine or sa_api.get_engine()
    with engine.begin() as connection:
        alembic_command.upgrade(_config(connection), revision)


def version(engine=None):
    """The revision the database is at, or None for an empty database."""
    engine = engine or sa_api.get_engine()
    with engine.connect() as connection:
        context = alembic_migration.MigrationContext.configure(connection)
        return context.get_current_revision()


def head():
    """The newest revision this code ships."""
    return alembic_script.ScriptDirectory.from_config(
        _config(None)).get_current_head()


def check_at_head(engine=None):
    """Raise DatabaseNotReady unless the schema is at this code's head.

    An unreachable or misconfigured database raises DatabaseUnavailable.
    """
    wanted = head()
    try:
        current = version(engine)
    except DB_ERRORS as exc:
        raise exception.DatabaseUnavailable(
            reason=str(exc).splitlines()[0])
    if current != wanted:
        raise exception.DatabaseNotReady(current=current or 'none',
                                         head=wanted)
