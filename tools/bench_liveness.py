#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""How fast does a killed service show as down, per liveness backend?

For each backend: a real sgconductor-conductor (tooz driver, SQLite,
RabbitMQ), four processes simulating a live fleet (sgconductor-compute
--fleet; on ZooKeeper and etcd tools/fleet.py, whose members share one
backend session per process), and single-service sgconductor-compute
victims, each with its own session, SIGKILLed one at a time.

Printed per backend: seconds for the fleet to be all up; seconds from
SIGKILL until the conductor lists the victim down (median and max; the
victim is polled over RPC every 0.1 s); how many times a live service was
seen not up ("false down") in whole-fleet listings, one per second from
the first kill to the last detection ("listings").

    tools/test-setup.sh          # servers on 127.0.0.1
    python tools/bench_liveness.py --fleet 1000 --victims 5

service_down_time is 60 s, so only the backend can explain a fast "down".
"""

import argparse
import collections
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from oslo_config import cfg

from sgconductor import cmd  # noqa: F401 (quiets library deprecations)
from sgconductor import conf as sg_conf  # noqa: F401 (registers options)
from sgconductor import exception
from sgconductor import rpc
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.db import migration
from sgconductor.db.sqlalchemy import api as sa_api

CONF = cfg.CONF
BACKENDS = {
    'zookeeper': 'zookeeper://127.0.0.1:2181?timeout=2',
    'redis': 'redis://127.0.0.1:6379?timeout=2',
    'memcached': 'memcached://127.0.0.1:11211?timeout=2',
    'etcd': 'etcd3+http://127.0.0.1:2379?timeout=2',
}
TRANSPORT_URL = 'rabbit://guest:guest@127.0.0.1:5672/'
BINARY = 'nova-compute'
# The live fleet is simulated by this many processes.
FLEET_PROCESSES = 4
# One session per simulated service costs too much CPU on these backends.
SHARED_SESSION_BACKENDS = ('zookeeper', 'etcd')
# Seconds for a whole fleet to register, join and report.
START_TIMEOUT = 300

Result = collections.namedtuple('Result', [
    'fleet', 'start_seconds', 'seconds', 'false_down', 'listings'])


def script(name):
    return [os.path.join(os.path.dirname(sys.executable), name)]


def fleet_simulator(backend):
    if backend in SHARED_SESSION_BACKENDS:
        return [sys.executable,
                os.path.join(os.path.dirname(__file__), 'fleet.py')]
    return script('sgconductor-compute')


def write_config(workdir, backend_url, topic):
    path = os.path.join(workdir, 'bench.conf')
    with open(path, 'w') as f:
        f.write('[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n'
                'report_interval = 10\nservice_down_time = 60\n'
                'log_dir = %s\n[conductor]\ntopic = %s\n'
                '[oslo_messaging_rabbit]\namqp_auto_delete = true\n'
                '[database]\nconnection = sqlite:///%s/bench.sqlite\n'
                '[servicegroup]\ndriver = tooz\nbackend_url = %s\n'
                % (TRANSPORT_URL, topic, workdir, topic, workdir,
                   backend_url))
    return path


def start(command, config, *args):
    return subprocess.Popen(
        command + ['--config-file', config] + list(args),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)


def states(rpcapi, ctxt, host=None):
    """{host: state}; {} if the conductor did not answer in time."""
    try:
        services = rpcapi.service_get_all(ctxt, host=host, binary=BINARY)
    except exception.ConductorUnavailable:
        return {}
    return {s['host']: s['state'] for s in services}


def wait_until(check, timeout, describe, interval=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise SystemExit('gave up waiting for %s' % describe())


class FalseDownWatch:
    """Lists the whole fleet every second from its own thread and counts
    every time a live service is seen not up.

    Only the victims are polled often (host-filtered listings): listing
    1,000 services ten times a second would load the conductor more than
    the fleet does.
    """

    INTERVAL = 1.0

    def __init__(self, rpcapi, ctxt):
        self.rpcapi, self.ctxt = rpcapi, ctxt
        self.false_down = 0
        self.listings = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.INTERVAL):
            seen = states(self.rpcapi, self.ctxt)
            if seen:
                self.listings += 1
                self.false_down += sum(1 for h, s in seen.items()
                                       if h.startswith('live') and s != 'up')

    def stop(self):
        self._stop.set()
        self._thread.join()


def run_backend(name, url, fleet, victims):
    workdir = tempfile.mkdtemp(prefix='sgbench-')
    topic = 'sgbench-' + uuid.uuid4().hex[:8]
    config = write_config(workdir, url, topic)
    CONF(['--config-file', config], project='sgconductor')
    sa_api.configure()
    migration.upgrade()
    procs = [start(script('sgconductor-conductor'), config)]
    try:
        rpcapi = conductor_rpcapi.ConductorAPI()
        ctxt = conductor_rpcapi.admin_context()
        wait_until(lambda: _answers(rpcapi, ctxt), 60,
                   lambda: 'the conductor', interval=0.2)
        for part in range(FLEET_PROCESSES):
            procs.append(start(fleet_simulator(name), config, '--host',
                               'live%d' % part, '--fleet',
                               str(fleet // FLEET_PROCESSES)))
        fleet -= fleet % FLEET_PROCESSES
        doomed = {'victim-%d' % i: start(script('sgconductor-compute'),
                                         config, '--host', 'victim-%d' % i)
                  for i in range(victims)}
        procs += doomed.values()
        started = time.monotonic()
        wait_until(lambda: list(states(rpcapi, ctxt).values()).count('up')
                   == fleet + victims, START_TIMEOUT,
                   lambda: '%d services up (%s seen up)' % (
                       fleet + victims,
                       list(states(rpcapi, ctxt).values()).count('up')))
        start_seconds = time.monotonic() - started
        watch = FalseDownWatch(rpcapi, ctxt)
        seconds = []
        for host, proc in doomed.items():
            os.killpg(proc.pid, signal.SIGKILL)
            killed = time.monotonic()
            while states(rpcapi, ctxt, host).get(host) != 'down':
                time.sleep(0.1)
            seconds.append(time.monotonic() - killed)
            time.sleep(2)  # a few fleet listings between victims
        watch.stop()
        return Result(fleet, start_seconds, seconds, watch.false_down,
                      watch.listings)
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        rpc.cleanup()
        sa_api.configure()
        shutil.rmtree(workdir, ignore_errors=True)


def _answers(rpcapi, ctxt):
    try:
        rpcapi.service_get_all(ctxt)
    except Exception:
        return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backend', action='append',
                        choices=sorted(BACKENDS),
                        help='Backend to measure (default: all).')
    parser.add_argument('--fleet', type=int, default=100,
                        help='Live simulated services (default 100).')
    parser.add_argument('--victims', type=int, default=5,
                        help='Processes SIGKILLed one by one (default 5).')
    args = parser.parse_args()
    print('%-10s %6s %8s %8s %9s %7s %11s %9s' % (
        'backend', 'fleet', 'start s', 'victims', 'median s', 'max s',
        'false down', 'listings'))
    for name in args.backend or sorted(BACKENDS):
        r = run_backend(name, BACKENDS[name], args.fleet, args.victims)
        print('%-10s %6d %8.0f %8d %9.2f %7.2f %11d %9d' % (
            name, r.fleet, r.start_seconds, len(r.seconds),
            statistics.median(r.seconds), max(r.seconds), r.false_down,
            r.listings), flush=True)


if __name__ == '__main__':
    main()
