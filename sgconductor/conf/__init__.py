# SPDX-License-Identifier: Apache-2.0
"""sgconductor configuration: every option lives on the global cfg.CONF.

oslo.messaging registers some of its options (tracing among them) only on the
global ``cfg.CONF``; a private ``ConfigOpts`` makes casts fail silently, so
this project never creates one.
"""

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_log import log as logging
from oslo_messaging import opts as messaging_opts

from sgconductor.conf import api
from sgconductor.conf import conductor
from sgconductor.conf import database
from sgconductor.conf import default
from sgconductor.conf import servicegroup
from sgconductor.conf import upgrade_levels

CONF = cfg.CONF

default.register_opts(CONF)
api.register_opts(CONF)
conductor.register_opts(CONF)
database.register_opts(CONF)
servicegroup.register_opts(CONF)
upgrade_levels.register_opts(CONF)
logging.register_options(CONF)
# oslo.messaging registers transport_url and its driver options only when
# it builds a transport; registering the same options now lets config files
# be checked, and transport_url be read, before that.
# Our exchange, set on oslo.messaging's own options before they are copied.
messaging.set_transport_defaults(control_exchange='sgconductor')
for _group, _opts in messaging_opts.list_opts():
    CONF.register_opts(_opts, group=_group)
