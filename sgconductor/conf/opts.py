# SPDX-License-Identifier: Apache-2.0
"""Entry point for oslo-config-generator.

``list_opts`` lists sgconductor's own options; the generator's other
namespaces (oslo.messaging, oslo.db, oslo.log, oslo.middleware,
oslo.policy) list the libraries' options.
oslo.db's sample shows ``[database] connection`` without sgconductor's
default (SQLite under ``[DEFAULT] state_path``), which its help text states.
"""

from sgconductor.conf import api
from sgconductor.conf import conductor
from sgconductor.conf import default
from sgconductor.conf import servicegroup
from sgconductor.conf import upgrade_levels

_MODULES = (default, api, conductor, servicegroup, upgrade_levels)


def list_opts():
    result = {}
    for module in _MODULES:
        for group, opts in module.list_opts().items():
            result.setdefault(group, []).extend(opts)
    return [(group, opts) for group, opts in result.items()]
