# SPDX-License-Identifier: Apache-2.0
"""Alembic environment: runs migrations on the connection the caller gives.

``sgconductor.db.migration`` puts an open connection in
``config.attributes['connection']``; offline (SQL script) mode is not
supported.
"""

from alembic import context

from sgconductor.db.sqlalchemy import models

target_metadata = models.Base.metadata


def run_migrations_online():
    connection = context.config.attributes['connection']
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == 'sqlite')
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
