# SPDX-License-Identifier: Apache-2.0
"""What sgconductor-api's requests cost, over HTTP, per fleet size.

Runs a conductor in this process on SQLite and RabbitMQ (the functional
tests' broker, after tools/test-setup.sh; queues of a topic of its own,
deleted when done) and the API on the standalone server in a thread,
fills the services table with N services, then times from one client:
the version document (no conductor call), the service list, a PUT by
uuid, and /metrics; without authentication, and with HTTP basic
authentication at bcrypt costs 5 (htpasswd -B's default) and 10.
doc/api.rst has the results.

    python tools/bench_api.py [--services 100 1000 10000] [--requests 200]
"""

import argparse
import base64
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from wsgiref import simple_server

import bcrypt
from oslo_utils import timeutils

from sgconductor.api import app as api_app
from sgconductor.cmd import api as api_cmd
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.db.sqlalchemy import api as sa_api

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from tools import local_conductor  # noqa: E402

USER, PASSWORD = 'ops', 'secret'


def percentiles(times):
    times = sorted(times)
    return (times[len(times) // 2] * 1e3, times[int(len(times) * 0.99)] * 1e3)


def fill(first, stop):
    """nova-compute rows number ``first`` to ``stop`` - 1, as
    registrations would have left them (written directly: filling is not
    what is measured)."""
    now = timeutils.utcnow()
    reports = [({'host': 'cn%06d' % i, 'binary': 'nova-compute',
                 'topic': 'compute', 'version': 5,
                 'availability_zone': 'nova'}, None)
               for i in range(first, stop)]
    for start in range(0, len(reports), 1000):
        sa_api.service_upsert_many(reports[start:start + 1000], now)


class Client:
    def __init__(self, port, headers):
        self.port = port
        self.headers = headers

    def timed(self, method, path, count, body=None):
        times = []
        headers = dict(self.headers, **{
            'OpenStack-API-Version': 'compute 2.53',
            'Content-Type': 'application/json'})
        for _ in range(count):
            started = time.perf_counter()
            # wsgiref answers HTTP/1.0: one connection per request.
            connection = http.client.HTTPConnection('127.0.0.1', self.port)
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            times.append(time.perf_counter() - started)
            if response.status >= 300:
                raise SystemExit('%s %s: %s %s' % (method, path,
                                                   response.status, payload))
        return percentiles(times), payload


def serve(config, auth, workdir):
    if auth == 'noauth':
        config.config(auth_strategy='noauth', group='api')
        return {}
    cost = int(auth.split()[-1])
    path = os.path.join(workdir, 'htpasswd-%d' % cost)
    with open(path, 'w') as f:
        f.write('%s:%s\n' % (USER, bcrypt.hashpw(
            PASSWORD.encode(), bcrypt.gensalt(rounds=cost)).decode()))
    config.config(auth_strategy='http_basic', group='api')
    config.config(http_basic_roles={USER: 'admin'}, group='api')
    config.config(http_basic_auth_user_file=path, group='oslo_middleware')
    return {'Authorization': 'Basic ' + base64.b64encode(
        ('%s:%s' % (USER, PASSWORD)).encode()).decode()}


def run(config, api, sizes, requests, workdir):
    print('%-18s %8s  %-20s %8s %8s' % ('auth', 'services', 'request',
                                          'p50 ms', 'p99 ms'))
    filled = 0
    for size in sizes:
        fill(filled, size)
        filled = size
        for auth in ('noauth', 'http_basic cost 5', 'http_basic cost 10'):
            headers = serve(config, auth, workdir)
            server = simple_server.make_server(
                '127.0.0.1', 0, api_app.build_app(api),
                server_class=api_cmd._Server,
                handler_class=simple_server.WSGIRequestHandler)
            server.RequestHandlerClass.log_message = lambda *args: None
            thread = threading.Thread(target=server.serve_forever)
            thread.start()
            try:
                client = Client(server.server_port, headers)
                figures, listed = client.timed(
                    'GET', '/v2.1/os-services', max(10, requests // 10))
                target = json.loads(listed)['services'][0]['id']
                rows = [
                    ('GET /v2.1/', client.timed('GET', '/v2.1/',
                                                requests)[0]),
                    ('GET os-services', figures),
                    ('PUT os-services/id', client.timed(
                        'PUT', '/v2.1/os-services/' + target, requests,
                        body=json.dumps({'forced_down': False}))[0]),
                    ('GET /metrics', client.timed(
                        'GET', '/metrics', max(10, requests // 10))[0]),
                ]
            finally:
                server.shutdown()
                server.server_close()
                thread.join()
            for name, (p50, p99) in rows:
                print('%-18s %8d  %-20s %8.2f %8.2f' % (
                    auth, size, name, p50, p99))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--services', type=int, nargs='+',
                        default=[100, 1000, 10000])
    parser.add_argument('--requests', type=int, default=200)
    args = parser.parse_args()
    with local_conductor.running('api') as config, \
            tempfile.TemporaryDirectory() as workdir:
        run(config, conductor_rpcapi.ConductorAPI(), sorted(args.services),
            args.requests, workdir)

if __name__ == '__main__':
    main()
