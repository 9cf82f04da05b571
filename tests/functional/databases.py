# SPDX-License-Identifier: Apache-2.0
"""Throw-away MariaDB/MySQL and PostgreSQL databases for functional tests.

Each backend has an admin URL: a database the test user can log in to and
from which it can create and drop databases named ``sgconductor_func_*``
(``tools/test-setup.sh`` sets that up). Override them with
SGCONDUCTOR_TEST_MYSQL_URL and SGCONDUCTOR_TEST_POSTGRESQL_URL.
"""

import os
import uuid

import sqlalchemy as sa
from sqlalchemy import engine as sa_engine

BACKENDS = ('mysql', 'postgresql')

URL_ENV = {
    'mysql': 'SGCONDUCTOR_TEST_MYSQL_URL',
    'postgresql': 'SGCONDUCTOR_TEST_POSTGRESQL_URL',
}

DEFAULT_URLS = {
    # oslo.db would connect with the 3-byte utf8 charset otherwise.
    'mysql': 'mysql+pymysql://sgconductor:sgconductor@127.0.0.1/'
             'sgconductor_test?charset=utf8mb4',
    'postgresql': 'postgresql+psycopg2://sgconductor:sgconductor@127.0.0.1/'
                  'sgconductor_test',
}

NAME_PREFIX = 'sgconductor_func_'

# Seconds to wait for a database server to accept a connection.
CONNECT_TIMEOUT = 5


class Unreachable(Exception):
    """The admin database of a backend cannot be used."""


def admin_url(backend):
    return sa_engine.make_url(os.environ.get(URL_ENV[backend])
                              or DEFAULT_URLS[backend])


def safe_url(url):
    """``url`` as text, without its password."""
    return sa_engine.make_url(url).render_as_string(hide_password=True)


class Server:
    """A backend's admin connection, able to create and drop databases."""

    def __init__(self, backend, url=None):
        """``url``: the admin URL, if not the backend's own."""
        self.backend = backend
        self.url = sa_engine.make_url(url) if url else admin_url(backend)
        self.engine = sa.create_engine(
            self.url, isolation_level='AUTOCOMMIT', poolclass=sa.pool.NullPool,
            connect_args={'connect_timeout': CONNECT_TIMEOUT})
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text('SELECT 1'))
        except Exception as exc:
            self.engine.dispose()
            text = str(exc).strip().splitlines()
            reason = text[0] if text else type(exc).__name__
            if self.url.password:
                reason = reason.replace(self.url.password, '***')
            raise Unreachable(
                'cannot use the %s test database %s (set %s to override): '
                '%s; run tools/test-setup.sh'
                % (backend, safe_url(self.url), URL_ENV[backend],
                   reason)) from exc

    def _quote(self, name):
        return self.engine.dialect.identifier_preparer.quote_identifier(name)

    def create_database(self):
        """Create an empty, uniquely named database; return its URL."""
        name = NAME_PREFIX + uuid.uuid4().hex[:16]
        statement = 'CREATE DATABASE %s' % self._quote(name)
        if self.backend == 'mysql':
            statement += ' CHARACTER SET utf8mb4'
        with self.engine.connect() as conn:
            conn.execute(sa.text(statement))
        return self.url.set(database=name)

    def drop_database(self, url):
        name = sa_engine.make_url(url).database
        assert name.startswith(NAME_PREFIX), name
        with self.engine.connect() as conn:
            if self.backend == 'postgresql':
                # Connections a killed process left behind would block it.
                conn.execute(sa.text(
                    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                    'WHERE datname = :name AND pid <> pg_backend_pid()'),
                    {'name': name})
            conn.execute(sa.text('DROP DATABASE IF EXISTS %s'
                                 % self._quote(name)))

    def dispose(self):
        self.engine.dispose()
