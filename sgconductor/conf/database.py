# SPDX-License-Identifier: Apache-2.0
"""The ``[database]`` group: oslo.db's options with sgconductor defaults."""

from oslo_db import options as db_options

_DEFAULT_SQL_CONNECTION = 'sqlite:///$state_path/sgconductor.sqlite'


# oslo.db tries a first connection 10 times, 10 s apart: start-up and
# "sgconductor-manage db ..." would hang for 100 s on a database that is
# down. A few seconds is enough to ride out a restart.
_DEFAULT_MAX_RETRIES = 3
_DEFAULT_RETRY_INTERVAL = 2


def register_opts(conf):
    db_options.set_defaults(conf, connection=_DEFAULT_SQL_CONNECTION)
    conf.set_default('max_retries', _DEFAULT_MAX_RETRIES, group='database')
    conf.set_default('retry_interval', _DEFAULT_RETRY_INTERVAL,
                     group='database')
