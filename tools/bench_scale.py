#!/usr/bin/env python3
"""Heartbeat intake at scale: sgconductor beside a stock baseline.

Every part runs a real conductor process against the real RabbitMQ and
MariaDB of tools/test-setup.sh, on a fresh database seeded with N
registered services, and the same part against the baseline,
tools/stock_conductor.py (a stock oslo.messaging RPC server writing one
row per heartbeat in its own transaction, as Nova does), in the same run:

drain
    M report_state casts for N services are queued while no conductor
    runs (tools/heartbeat_fleet.py, ordinary oslo.messaging casts from
    several processes). Then the conductor starts; measured from the
    first message it takes until every heartbeat is in the database
    (SUM(report_count)): heartbeats/s, and the CPU seconds its processes
    used per 1,000 heartbeats. Meanwhile:
statements
    MariaDB's own counter of statements (``Questions``) during the drain,
    per second and per 1,000 heartbeats, without the bench's own polling
    and the probe's calls;
min-version
    get_min_version over RPC every 20 ms from one client during the
    drain: p50 and p99 in ms ("inf": a call timed out after 30 s); then
    200 calls back to back once the conductor is idle, for comparison;
list
    ``service list`` over RPC of all N services, idle (median of 3).

    tools/test-setup.sh
    python tools/bench_scale.py --services 10000 100000 --heartbeats 100000

The baseline drains --baseline-heartbeats (it is slow; the rate is what
is compared).
"""

import argparse
import collections
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import kombu
import oslo_messaging as messaging
import sqlalchemy as sa
from oslo_config import cfg

from sgconductor import cmd  # noqa: F401 (quiets library deprecations)
from sgconductor import conf as sg_conf  # noqa: F401 (registers options)
from sgconductor import rpc
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.db import migration
from sgconductor.db.sqlalchemy import api as sa_api
from sgconductor.db.sqlalchemy import models

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from tests.functional import databases  # noqa: E402
from tools import heartbeat_fleet  # noqa: E402

CONF = cfg.CONF
TRANSPORT_URL = 'rabbit://guest:guest@127.0.0.1:5672/'
TOOLS = os.path.dirname(os.path.abspath(__file__))
# Processes casting the queued heartbeats.
FLEET_PROCESSES = 2
# Seconds between two looks at the queue and the database.
POLL = 0.05
SEED_CHUNK = 5000
# Seconds between two get_min_version calls of the probe.
PROBE_INTERVAL = 0.02
CLOCK_TICKS = os.sysconf('SC_CLK_TCK')

Drain = collections.namedtuple('Drain', [
    'heartbeats', 'seconds', 'statements', 'cpu', 'min_version_ms'])


def write_config(workdir, db_url, topic):
    path = os.path.join(workdir, 'bench.conf')
    with open(path, 'w') as f:
        f.write('[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n'
                'log_dir = %s\nreport_interval = 10\n'
                'service_down_time = 60\n'
                '[conductor]\ntopic = %s\ncall_timeout = 30\n'
                '[database]\nconnection = %s\n'
                % (TRANSPORT_URL, topic, workdir, topic,
                   db_url.render_as_string(hide_password=False)))
    return path


def seed(engine, count):
    """``count`` registered services, as heartbeat_fleet names them."""
    now = datetime.datetime.utcnow().replace(microsecond=0)
    table = models.Service.__table__
    with engine.begin() as conn:
        for start in range(0, count, SEED_CHUNK):
            rows = []
            for index in range(start, min(count, start + SEED_CHUNK)):
                host, service_uuid = heartbeat_fleet.service(index)
                rows.append({
                    'uuid': service_uuid, 'host': host,
                    'binary': heartbeat_fleet.BINARY, 'topic': 'compute',
                    'availability_zone': 'nova', 'report_count': 1,
                    'disabled': False, 'forced_down': False,
                    'version': heartbeat_fleet.VERSION, 'deleted': 0,
                    'last_seen_up': now, 'created_at': now,
                    'updated_at': now})
            conn.execute(table.insert(), rows)


def total_reports(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            'SELECT SUM(report_count) FROM services')).scalar() or 0


def questions(engine):
    """MariaDB's count of statements received from all clients."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            "SHOW GLOBAL STATUS LIKE 'Questions'")).one()[1])


def queue_depth(queue):
    with rpc.broker_connections()[0] as connection:
        return queue(connection.channel()).queue_declare(
            passive=True).message_count


def spawn(argv):
    return subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)


def kill(process):
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def fill_queue(config, services, heartbeats):
    """Cast ``heartbeats`` report_state, spread over up to ``services``
    services (each as many times)."""
    reporting = min(services, heartbeats)
    rounds = heartbeats // reporting
    share = reporting // FLEET_PROCESSES
    fleet = [spawn([sys.executable, os.path.join(TOOLS, 'heartbeat_fleet.py'),
                    '--config-file', config, '--first', str(part * share),
                    '--count', str(share), '--rounds', str(rounds)])
             for part in range(FLEET_PROCESSES)]
    casts = 0
    for process in fleet:
        out, _ = process.communicate()
        casts += json.loads(out.strip().splitlines()[-1])['casts']
    return casts


class MinVersionProbe:
    """get_min_version every PROBE_INTERVAL s from one client, as an API
    service asking before each decision would, on its own thread."""

    def __init__(self, call):
        self.call = call
        self.latencies = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(PROBE_INTERVAL):
            started = time.perf_counter()
            try:
                self.call()
            except Exception:
                self.latencies.append(float('inf'))
                continue
            self.latencies.append((time.perf_counter() - started) * 1000)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.latencies


def idle_calls(engine, call, calls=200):
    """``calls`` back to back on an idle conductor: the statements the
    server counts per call, and each call's latency in ms."""
    for _ in range(20):
        call()
    latencies = []
    before = questions(engine)
    for _ in range(calls):
        started = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - started) * 1000)
    return (questions(engine) - before - 1) / calls, latencies


def tree_cpu(pid):
    """CPU seconds used so far by process ``pid`` and its descendants."""
    stats = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, ... utime (12th), stime (13th).
        stats[int(entry)] = (int(fields[1]),
                             (int(fields[11]) + int(fields[12]))
                             / CLOCK_TICKS)
    tree = {pid}
    grew = True
    while grew:
        grew = False
        for child, (parent, _) in stats.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    return sum(stats[member][1] for member in tree if member in stats)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def drain(conductor_argv, config, engine, services, heartbeats, min_version):
    """Queue ``heartbeats``, start the conductor, time the drain."""
    queue = rpc.topic_queue(conductor_rpcapi.reports_topic(
        CONF.conductor.topic))
    with rpc.broker_connections()[0] as connection:
        queue(connection.channel()).declare()
    casts = fill_queue(config, services, heartbeats)
    expected = total_reports(engine) + casts
    while queue_depth(queue) < casts:
        time.sleep(POLL)
    conductor = spawn(conductor_argv)
    try:
        while queue_depth(queue) == casts:
            time.sleep(POLL / 5)
        started = time.perf_counter()
        cpu = tree_cpu(conductor.pid)
        before = questions(engine)
        probe = MinVersionProbe(min_version)
        polls = 0
        while total_reports(engine) < expected:
            polls += 1
            time.sleep(POLL)
        seconds = time.perf_counter() - started
        cpu = tree_cpu(conductor.pid) - cpu
        after = questions(engine)
        latencies = probe.stop()
        # Heartbeats only: not the bench's polls (one SUM each, one SHOW
        # STATUS), nor what the probe's calls cost.
        per_call, idle = idle_calls(engine, min_version)
        statements = (after - before - polls - 1
                      - per_call * len(latencies))
    finally:
        kill(conductor)
    return Drain(casts, seconds, statements, cpu,
                 (percentile(latencies, 0.5), percentile(latencies, 0.99),
                  percentile(idle, 0.5), percentile(idle, 0.99)))


def list_seconds(rpcapi, ctxt):
    times = []
    for _ in range(3):
        started = time.perf_counter()
        services = rpcapi.service_get_all(ctxt)
        times.append(time.perf_counter() - started)
    return len(services), statistics.median(times)


def run(server, services, heartbeats):
    """One part of the run on a fresh database and topic."""
    server_db = databases.Server('mysql')
    db_url = server_db.create_database()
    workdir = tempfile.mkdtemp(prefix='sgbench-')
    config = write_config(workdir, db_url,
                          'sgbench-' + uuid.uuid4().hex[:8])
    CONF(['--config-file', config], project='sgconductor')
    sa_api.configure()
    migration.upgrade()
    engine = sa.create_engine(db_url, pool_size=1)
    try:
        seed(engine, services)
        ctxt = conductor_rpcapi.admin_context()
        rpcapi = conductor_rpcapi.ConductorAPI()
        if server == 'stock':
            argv = [sys.executable, os.path.join(TOOLS, 'stock_conductor.py'),
                    '--config-file', config]
            client = rpc.get_client(stock_target(), timeout=30)

            def min_version():
                return client.call(ctxt, 'get_min_version',
                                   binaries=[heartbeat_fleet.BINARY])
        else:
            argv = [os.path.join(os.path.dirname(sys.executable),
                                 'sgconductor-conductor'),
                    '--config-file', config]

            def min_version():
                return rpcapi.get_min_version(ctxt, heartbeat_fleet.BINARY)
        result = drain(argv, config, engine, services, heartbeats,
                       min_version)
        listed = None
        if server == 'sgconductor':
            conductor = spawn(argv)
            try:
                while True:
                    try:
                        listed = list_seconds(rpcapi, ctxt)
                        break
                    except Exception:
                        time.sleep(0.5)
            finally:
                kill(conductor)
        return result, listed
    finally:
        rpc.cleanup()
        sa_api.configure()
        engine.dispose()
        server_db.drop_database(db_url)
        server_db.dispose()
        delete_queue()


def stock_target():
    """The stock server's topic: it serves calls and casts on one."""
    return messaging.Target(topic=conductor_rpcapi.reports_topic(
        CONF.conductor.topic), version='1.0')


def delete_queue():
    queue = rpc.topic_queue(conductor_rpcapi.reports_topic(
        CONF.conductor.topic))
    with rpc.broker_connections()[0] as connection:
        try:
            queue(connection.channel()).delete()
        except kombu.exceptions.OperationalError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--services', type=int, nargs='+', default=[10000],
                        help='Registered services (N); several values '
                             'make several runs (default 10000).')
    parser.add_argument('--heartbeats', type=int, default=50000,
                        help='Heartbeats queued for sgconductor (M).')
    parser.add_argument('--baseline-heartbeats', type=int, default=5000,
                        help='Heartbeats queued for the baseline.')
    parser.add_argument('--skip-baseline', action='store_true',
                        help='Only measure sgconductor (while tuning).')
    args = parser.parse_args()
    print('%-12s %8s %10s %8s %8s %12s %9s %7s %7s %7s %7s %6s' % (
        'server', 'services', 'heartbeats', 'drain/s', 'cpu/1000',
        'statements/s', 'stmt/1000', 'mv p50', 'mv p99', 'idle50',
        'idle99', 'list'), flush=True)
    runs = [('stock', args.baseline_heartbeats),
            ('sgconductor', args.heartbeats)]
    for services in args.services:
        for server, heartbeats in runs[args.skip_baseline:]:
            result, listed = run(server, services, heartbeats)
            print('%-12s %8d %10d %8.0f %8.3f %12.1f %9.1f %7.1f %7.1f '
                  '%7.1f %7.1f %6s' % (server, services, result.heartbeats,
                     result.heartbeats / result.seconds,
                     1000.0 * result.cpu / result.heartbeats,
                     result.statements / result.seconds,
                     1000.0 * result.statements / result.heartbeats,
                     *result.min_version_ms,
                     '%.2f' % listed[1] if listed else '-'), flush=True)


if __name__ == '__main__':
    main()
