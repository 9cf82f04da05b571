# SPDX-License-Identifier: Apache-2.0
"""sgconductor-conductor: the only writer of the services table."""

from oslo_config import cfg

from sgconductor import exception
from sgconductor import rpc
from sgconductor import service
from sgconductor.cmd import common
from sgconductor.conductor import rpcapi
from sgconductor.conductor import versioncache
from sgconductor.db import migration
from sgconductor.servicegroup import api as servicegroup_api

CONF = cfg.CONF
PROG = 'sgconductor-conductor'


def main(argv=None):
    parser = common.make_parser(
        PROG, 'Run the conductor: consume report_state and operator calls '
              'on [conductor] topic and keep the services table. Stops '
              'cleanly on SIGTERM.')
    common.setup(parser, argv)
    try:
        migration.check_at_head()
        rpc.ensure_broker_reachable()
        topic = CONF.conductor.topic
        # oslo.messaging's RPC server consumes topic, topic.host and
        # topic's fanout; the conductor's own servers the rest.
        rpc.check_queues(
            [topic, '%s.%s' % (topic, CONF.host),
             rpcapi.reports_topic(topic), rpcapi.versions_topic(topic),
             rpcapi.registrations_topic(topic)],
            fanout_topics=[topic, versioncache.announcements_topic(topic)])
        servicegroup_api.API().check()
    except (exception.SGConductorException, OSError) as exc:
        common.fail(PROG, exc)
    service.serve()
