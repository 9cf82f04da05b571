"""The ``[database]`` group: oslo.db's options with sgconductor defaults."""

from oslo_db import options as db_options

_DEFAULT_SQL_CONNECTION = 'sqlite:///$state_path/sgconductor.sqlite'


def register_opts(conf):
    db_options.set_defaults(conf, connection=_DEFAULT_SQL_CONNECTION)
