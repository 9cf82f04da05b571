#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The baseline of tools/bench_scale.py: heartbeats handled as Nova does.

Stock oslo.messaging RPC servers (threading executor, default thread
pool, one message at a time, one ack each) consume the reports topic and
the conductor topic of ``--config-file``. report_state writes each
heartbeat in a transaction of its own (``service_upsert``: SELECT ... FOR
UPDATE, UPDATE, COMMIT, as Nova's ``Service.save()``), register_service
each registration (as Nova's ``Service.create()``), and get_min_version
is answered on the reports topic, behind the heartbeats, on the same
thread pool. Runs until SIGTERM or SIGINT.
"""

import argparse
import datetime
import signal
import sys
import threading

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_utils import timeutils

from sgconductor import cmd  # noqa: F401 (quiets library deprecations)
from sgconductor import conf as sg_conf  # noqa: F401 (registers options)
from sgconductor import rpc
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.conductor import validation
from sgconductor.db import api as db_api

# Before any service reported: the bounds count every live row.
EVER = datetime.datetime(1970, 1, 1)

CONF = cfg.CONF


class StockEndpoint:
    target = messaging.Target(version='1.0')

    def __init__(self):
        self.dbapi = db_api.get_instance()

    @messaging.expose
    def report_state(self, context, **report):
        values, uuid = validation.check_report(report)
        self.dbapi.service_upsert(values, timeutils.utcnow(), uuid)

    @messaging.expose
    def register_service(self, context, **report):
        values, uuid = validation.check_report(report)
        service, outcome = self.dbapi.service_upsert(
            values, timeutils.utcnow(), uuid)
        return {'outcome': outcome, 'service': {'id': service.id}}

    @messaging.expose
    def get_min_version(self, context, binaries):
        # Nova counts every row that is not deleted, however long dead.
        return self.dbapi.service_get_min_versions(binaries, EVER)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config-file', required=True)
    args = parser.parse_args(argv)
    CONF(['--config-file', args.config_file], project='sgconductor')
    endpoint = StockEndpoint()
    servers = [rpc.get_server(messaging.Target(topic=topic, server=CONF.host),
                              [endpoint])
               for topic in (conductor_rpcapi.reports_topic(
                   CONF.conductor.topic), CONF.conductor.topic)]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    for server in servers:
        server.start()
    stop.wait()
    for server in servers:
        server.stop()
        server.wait()
    rpc.cleanup()


if __name__ == '__main__':
    sys.exit(main())
