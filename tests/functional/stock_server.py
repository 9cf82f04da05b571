# SPDX-License-Identifier: Apache-2.0
"""The project's endpoints behind stock oslo.messaging RPC servers.

The reference tests/functional/test_conformance.py compares the
conductor's own servers with: for each topic the conductor consumes
with kombu (reports, versions, registrations of ``[conductor] topic``),
an ``oslo_messaging`` RPC server of that topic, serving the endpoint
and methods the conductor's fast path serves there (``dispatch.py``),
with the serializer and access policy of the conductor topic's server.
It writes through a ConductorManager, as a conductor worker does.

    python stock_server.py --config-file sgconductor.conf ...

Logs STOCK_READY once every server consumes; stops on SIGTERM.
"""

import signal
import threading

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_log import log as logging

from sgconductor import rpc
from sgconductor.cmd import common
from sgconductor.conductor import dispatch
from sgconductor.conductor import intake
from sgconductor.conductor import manager as manager_lib
from sgconductor.conductor import registrationserver
from sgconductor.conductor import rpcapi
from sgconductor.conductor import versionserver

CONF = cfg.CONF
LOG = logging.getLogger(__name__)
STOCK_READY = 'Stock RPC servers consuming'


def servers(manager):
    """A stock RPC server per topic the conductor's own servers take."""
    topic = CONF.conductor.topic
    served = [
        (rpcapi.reports_topic(topic),
         intake.ReportsEndpoint(manager.reports.take,
                                manager_lib.RPC_API_VERSION),
         intake.REPORT_METHODS),
        (rpcapi.versions_topic(topic), manager,
         versionserver.VersionServer.METHODS),
        (rpcapi.registrations_topic(topic), manager,
         registrationserver.RegistrationServer.METHODS),
    ]
    return [messaging.get_rpc_server(
        rpc.get_transport(), messaging.Target(topic=name, server=CONF.host),
        [endpoint], executor='threading',
        serializer=rpc.RequestContextSerializer(),
        access_policy=dispatch.only(methods))
        for name, endpoint, methods in served]


def main():
    common.setup(common.make_parser(
        'stock_server.py', 'The endpoints of the conductor\'s own servers '
        'behind stock oslo.messaging RPC servers.'))
    manager = manager_lib.ConductorManager(CONF.conductor.topic)
    manager.init_host()
    started = servers(manager)
    for server in started:
        server.start()
    LOG.info(STOCK_READY)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    stopping.wait()
    for server in started:
        server.stop()
        server.wait()
    manager.cleanup_host()


if __name__ == '__main__':
    main()
