"""Entry points for oslo-config-generator.

``list_opts`` lists sgconductor's own options; the generator's other
namespaces (oslo.messaging, oslo.db, oslo.log) list the libraries' options,
and ``set_lib_defaults`` makes the sample show sgconductor's defaults for
them.
"""

from oslo_config import cfg

from sgconductor.conf import conductor
from sgconductor.conf import database
from sgconductor.conf import default
from sgconductor.conf import servicegroup

_MODULES = (default, conductor, servicegroup)


def list_opts():
    result = {}
    for module in _MODULES:
        for group, opts in module.list_opts().items():
            result.setdefault(group, []).extend(opts)
    return [(group, opts) for group, opts in result.items()]


def set_lib_defaults():
    database.register_opts(cfg.CONF)
