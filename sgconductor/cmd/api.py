# SPDX-License-Identifier: Apache-2.0
"""sgconductor-api: the os-services REST API, served standalone.

A threaded wsgiref server, enough for a test bed and a small cloud; run
``sgconductor.api.wsgi:application`` under uWSGI or mod_wsgi in
production.
"""

import signal
import socketserver
import threading
from wsgiref import simple_server

from oslo_config import cfg
from oslo_log import log as logging

from sgconductor import exception
from sgconductor import rpc
from sgconductor.api import app
from sgconductor.cmd import common

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

PROG = 'sgconductor-api'

# Seconds a client may leave a connection silent before it is closed, so
# that slow or stuck clients cannot hold threads forever.
CLIENT_TIMEOUT = 60
# Once the headers are in, seconds the body may stop coming before the
# request is answered 400 (a body shorter than its Content-Length).
BODY_TIMEOUT = 5


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    # Not daemon threads: server_close() waits for the requests in
    # flight, so a change a client sent is answered before the process
    # exits.
    daemon_threads = False


class _Handler(simple_server.WSGIRequestHandler):
    """Request lines to the log instead of stderr, with anything
    unprintable a client sent escaped, so it cannot forge log lines."""

    timeout = CLIENT_TIMEOUT

    def get_environ(self):
        # Called once the headers are read, before the application reads
        # the body.
        self.connection.settimeout(BODY_TIMEOUT)
        return super().get_environ()

    def log_message(self, format, *args):
        line = format % args
        LOG.info('%s %s', self.address_string(), ''.join(
            char if char.isprintable() else repr(char)[1:-1]
            for char in line))


def main(argv=None):
    parser = common.make_parser(
        PROG, 'Serve Nova\'s os-services API (/v2.1/os-services) on '
              '[api] host_ip and port; every change goes to the conductor '
              'over RPC. Stops cleanly on SIGTERM.')
    common.setup(parser, argv)
    try:
        application = app.build_app()
        server = simple_server.make_server(
            CONF.api.host_ip, CONF.api.port, application,
            server_class=_Server, handler_class=_Handler)
    except (exception.SGConductorException, OSError) as exc:
        common.fail(PROG, exc)

    def stop(signum, frame):
        # shutdown() waits for serve_forever(), which runs in this thread.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    LOG.info('Serving the compute API on http://%s:%s/v2.1/ (auth: %s)',
             CONF.api.host_ip, server.server_port, CONF.api.auth_strategy)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        rpc.cleanup()
