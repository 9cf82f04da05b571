#!/usr/bin/env python3
"""How fast does a killed service show as down, per liveness backend?

For each backend: a real sgconductor-conductor (tooz driver, SQLite,
RabbitMQ), four sgconductor-compute processes simulating a live fleet, and
victim processes that are SIGKILLed one at a time. The conductor's
service list is polled over RPC every 0.1 s; printed per backend: seconds
from SIGKILL to "down" (median and max over the victims) and how many
times a live fleet member was seen not up (false "down").

    tools/test-setup.sh          # servers on 127.0.0.1
    python tools/bench_liveness.py --fleet 1000 --victims 5

service_down_time is 60 s, so only the backend can explain a fast "down".
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from oslo_config import cfg

from sgconductor import cmd  # noqa: F401 (quiets library deprecations)
from sgconductor import conf as sg_conf  # noqa: F401 (registers options)
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
# The live fleet is simulated by this many sgconductor-compute processes.
FLEET_PROCESSES = 4
# Seconds for a whole fleet to register, join and report (a 2-core machine
# starts 1,000 tooz coordinators slowly).
START_TIMEOUT = 300


def script(name):
    return os.path.join(os.path.dirname(sys.executable), name)


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


def start(name, config, *args):
    return subprocess.Popen(
        [script(name), '--config-file', config] + list(args),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)


def states(rpcapi, ctxt):
    return {s['host']: s['state']
            for s in rpcapi.service_get_all(ctxt, binary=BINARY)}


def wait_until(check, timeout, describe):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit('gave up waiting for %s' % describe())


def run_backend(name, url, fleet, victims):
    workdir = tempfile.mkdtemp(prefix='sgbench-')
    topic = 'sgbench-' + uuid.uuid4().hex[:8]
    config = write_config(workdir, url, topic)
    CONF(['--config-file', config], project='sgconductor')
    sa_api.configure()
    migration.upgrade()
    procs = [start('sgconductor-conductor', config)]
    try:
        rpcapi = conductor_rpcapi.ConductorAPI()
        ctxt = conductor_rpcapi.admin_context()
        wait_until(lambda: _answers(rpcapi, ctxt), 60, lambda: 'the conductor')
        for part in range(FLEET_PROCESSES):
            procs.append(start('sgconductor-compute', config, '--host',
                               'live%d' % part, '--fleet',
                               str(fleet // FLEET_PROCESSES)))
        fleet -= fleet % FLEET_PROCESSES
        doomed = {'victim-%d' % i: start('sgconductor-compute', config,
                                         '--host', 'victim-%d' % i)
                  for i in range(victims)}
        procs += doomed.values()
        wait_until(lambda: list(states(rpcapi, ctxt).values()).count('up')
                   == fleet + victims, START_TIMEOUT,
                   lambda: '%d services up (%s seen up)' % (
                       fleet + victims,
                       list(states(rpcapi, ctxt).values()).count('up')))
        seconds, false_down = [], 0
        for host, proc in doomed.items():
            os.killpg(proc.pid, signal.SIGKILL)
            killed = time.monotonic()
            while True:
                seen = states(rpcapi, ctxt)
                false_down += sum(1 for h, s in seen.items()
                                  if h.startswith('live') and s != 'up')
                if seen[host] == 'down':
                    seconds.append(time.monotonic() - killed)
                    break
                time.sleep(0.1)
        return seconds, false_down, fleet
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
    print('%-10s %6s %8s %10s %10s %11s' % (
        'backend', 'fleet', 'victims', 'median s', 'max s', 'false down'))
    for name in args.backend or sorted(BACKENDS):
        seconds, false_down, fleet = run_backend(
            name, BACKENDS[name], args.fleet, args.victims)
        print('%-10s %6d %8d %10.2f %10.2f %11d' % (
            name, fleet, args.victims, statistics.median(seconds),
            max(seconds), false_down), flush=True)


if __name__ == '__main__':
    main()
