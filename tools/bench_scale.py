#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
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
    used per 1,000 heartbeats. "lost": heartbeats never written (the
    drain ends after 30 s without progress). Meanwhile:
statements
    MariaDB's own counter of statements (``Questions``) during the drain,
    per second and per 1,000 heartbeats, without the bench's own polling
    and the probe's calls;
min-version
    get_min_version over RPC every 20 ms from one client during the
    drain: p50 and p99 in ms ("inf": a call timed out after 30 s); then
    200 calls back to back once the conductor is idle, for comparison;
list
    ``service list`` over RPC of all N services, idle (median of 3, s).

sustained
    --sustain-services report every --interval seconds (jittered starts,
    tools/heartbeat_fleet.py) for --sustain-seconds against a running
    conductor: the load offered (casts/s); from the second interval on
    (the steady state), the conductor's CPU seconds per 1,000 heartbeats
    and the statements (``Questions``) per second and per 1,000
    heartbeats; the queue depth (sampled every second: its maximum
    and its last value), and every 5 s how many services the server would
    call down, and unknown (see ``judged``): "down" is the most seen at
    once, and every one is false, since every service reports. "lag" is
    how far behind their schedule the simulators fell (s): the load they
    offered is only what this machine could send. get_min_version p50 and
    p99 (ms) meanwhile, as in the drain. Once the fleet stops, the
    server is left to write what it has not ("drained": seconds until
    every heartbeat sent is in the database, "-" if not within
    DRAIN_LIMIT); "lost" counts heartbeats sent but never written (the
    writes stopped for STALL s; "-": still being written at DRAIN_LIMIT).
overload
    the same with --overload-services whose casts are published raw
    (tools/heartbeat_fleet.py --raw), faster than oslo.messaging clients
    can here, to offer more than the conductor can take.

storm
    --storm-services new services start within --storm-seconds and
    register (register_service calls, tools/heartbeat_fleet.py
    --register-within) against a running conductor and an empty
    database: how long until the last one was answered ("done", s from
    the first start), registration latency p50/p99/max (ms, from the
    service's start), failed calls, rows in the database afterwards,
    statements (``Questions``) and conductor CPU seconds per 1,000
    registrations (the CPU includes answering the probe); get_min_version
    p50 and p99 (ms) meanwhile, as in the drain.

    tools/test-setup.sh
    python tools/bench_scale.py --services 10000 100000

The baseline drains --baseline-heartbeats (it is slow; the rate is what
is compared).
"""

import argparse
import collections
import contextlib
import datetime
import json
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
# Processes publishing raw casts in the overload part.
RAW_FLEET_PROCESSES = 3
# Seconds between two looks at the queue and the database.
POLL = 0.05
SEED_CHUNK = 5000
# Seconds between two get_min_version calls of the probe.
PROBE_INTERVAL = 0.02
CLOCK_TICKS = os.sysconf('SC_CLK_TCK')
# Seconds without a new heartbeat in the database after which the drain
# is over and the missing heartbeats count as lost.
STALL = 30
# Seconds a sustained run waits, once the fleet stopped, for every
# heartbeat sent to be written.
DRAIN_LIMIT = 120

# cpu and statements: per second of the steady state.
Sustained = collections.namedtuple('Sustained', [
    'rate', 'cpu', 'statements', 'depth_max', 'depth_end', 'false_down',
    'unknown', 'checks', 'sender_lag', 'min_version_ms', 'drained', 'lost'])
Storm = collections.namedtuple('Storm', [
    'calls', 'failed', 'rows', 'seconds', 'statements', 'cpu',
    'latencies', 'min_version_ms'])
Drain = collections.namedtuple('Drain', [
    'heartbeats', 'lost', 'seconds', 'statements', 'cpu', 'min_version_ms'])


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
        return int(conn.execute(sa.text(
            'SELECT SUM(report_count) FROM services')).scalar() or 0)


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


def spawn_fleet(config, services, processes, *mode):
    """tools/heartbeat_fleet.py ``processes`` times, each with its share of
    ``services`` and the arguments ``mode``."""
    share = services // processes
    return [spawn([sys.executable, os.path.join(TOOLS, 'heartbeat_fleet.py'),
                   '--config-file', config, '--first', str(part * share),
                   '--count', str(share)] + list(mode))
            for part in range(processes)]


def fleet_output(process):
    """The JSON line a tools/heartbeat_fleet.py process printed at exit."""
    lines = process.communicate()[0].strip().splitlines()
    if process.returncode or not lines:
        raise SystemExit('a heartbeat_fleet.py process failed (exit %s)'
                         % process.returncode)
    return json.loads(lines[-1])


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
    fleet = spawn_fleet(config, reporting, FLEET_PROCESSES,
                        '--rounds', str(rounds))
    return sum(fleet_output(process)['casts'] for process in fleet)


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
        # A call sent before the conductor consumes its topic is lost.
        wait_for_consumer(rpc.topic_queue(min_version.topic))
        probe = MinVersionProbe(min_version)
        polls = 0
        total = progress = 0
        last_progress = time.perf_counter()
        while total < expected:
            polls += 1
            time.sleep(POLL)
            total = total_reports(engine)
            if total > progress:
                progress, last_progress = total, time.perf_counter()
            elif time.perf_counter() - last_progress > STALL:
                break  # the rest were lost
        seconds = last_progress - started
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
    return Drain(casts, expected - total, seconds, statements, cpu,
                 (percentile(latencies, 0.5), percentile(latencies, 0.99),
                  percentile(idle, 0.5), percentile(idle, 0.99)))


def wait_for_consumer(queue, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with rpc.broker_connections()[0] as connection:
            try:
                if queue(connection.channel()).queue_declare(
                        passive=True).consumer_count:
                    return
            except connection.channel_errors:
                pass  # not declared yet
        time.sleep(POLL)
    raise SystemExit('the conductor did not consume %s' % queue.name)


def judged(engine, server):
    """(down, unknown): how many services ``server`` would call down, and
    call unknown, now. The baseline judges as Nova does (last_seen_up
    older than service_down_time); sgconductor as its db driver does, as
    of the moment up to which it has read every report (read_until)."""
    now = datetime.datetime.utcnow()
    down_time = datetime.timedelta(seconds=CONF.service_down_time)
    table = models.Service.__table__
    with engine.connect() as conn:
        read_until = now
        if server == 'sgconductor':
            read_until = min(now, conn.execute(sa.text(
                'SELECT read_until FROM report_progress')).scalar() or now)
        down, stale = conn.execute(sa.select(
            sa.func.sum(sa.case((table.c.last_seen_up
                                 < read_until - down_time, 1), else_=0)),
            sa.func.sum(sa.case((table.c.last_seen_up < now - down_time, 1),
                                else_=0)),
        ).where(table.c.deleted == 0)).one()
    return int(down), int(stale - down)


def wait_for_total(engine, expected):
    """Wait until every heartbeat sent is in the database: (seconds it
    took, 0) once it is; (None, how many are missing) if none was
    written for STALL s; (None, None) if they were still coming after
    DRAIN_LIMIT s. The queue's depth would not do: a stock server takes
    every message off the queue long before it has written them."""
    started = last_progress = time.monotonic()
    progress = total_reports(engine)
    while progress < expected:
        now = time.monotonic()
        if now - started > DRAIN_LIMIT:
            return None, None
        if now - last_progress > STALL:
            return None, expected - progress
        time.sleep(1)
        total = total_reports(engine)
        if total > progress:
            progress, last_progress = total, time.monotonic()
    return time.monotonic() - started, 0


def sustain(server, config, engine, services, interval, seconds, raw):
    """``services`` reporting every ``interval`` s for ``seconds`` (with
    ``raw``, as fast as tools/heartbeat_fleet.py --raw can), then the
    queue left to drain for up to DRAIN_LIMIT s."""
    queue = rpc.topic_queue(conductor_rpcapi.reports_topic(
        CONF.conductor.topic))
    min_version = min_version_call(server)
    conductor = spawn(conductor_argv(server, config))
    try:
        wait_for_consumer(queue)
        wait_for_consumer(rpc.topic_queue(min_version.topic))
        # What a probe's call costs, measured while the server is idle.
        per_call, _ = idle_calls(engine, min_version)
        expected = total_reports(engine)
        fleet = spawn_fleet(
            config, services, RAW_FLEET_PROCESSES if raw else FLEET_PROCESSES,
            '--interval', str(interval), '--duration', str(seconds),
            *['--raw'] * raw)
        # CPU, statements and get_min_version in the steady state: from
        # the second report interval on.
        time.sleep(interval)
        cpu = tree_cpu(conductor.pid)
        before = questions(engine)
        probe = MinVersionProbe(min_version)
        depths, judgements = [], []
        while any(process.poll() is None for process in fleet):
            depths.append(queue_depth(queue))
            if len(depths) % 5 == 0:
                judgements.append(judged(engine, server))
            time.sleep(1)
        cpu = tree_cpu(conductor.pid) - cpu
        latencies = probe.stop()
        after = questions(engine)
        outputs = [fleet_output(process) for process in fleet]
        casts = sum(out['casts'] for out in outputs)
        drained, lost = wait_for_total(engine, expected + casts)
    finally:
        kill(conductor)
    # Heartbeats only: not the bench's own queries (judgements: three
    # statements each with the pool's rollback), nor the probe's calls.
    statements = (after - before - 2 - 3 * len(judgements)
                  - per_call * len(latencies))
    steady = seconds - interval
    return Sustained(
        casts / seconds, cpu / steady, statements / steady, max(depths),
        depths[-1], max(down for down, _ in judgements),
        max(unknown for _, unknown in judgements), len(judgements),
        max(out['max_lag'] for out in outputs),
        (percentile(latencies, 0.5), percentile(latencies, 0.99)),
        drained, lost)


def storm(conductor_argv, config, engine, services, within, min_version):
    """``services`` new services registering within ``within`` s."""
    conductor = spawn(conductor_argv)
    try:
        wait_for_consumer(rpc.topic_queue(CONF.conductor.topic))
        wait_for_consumer(rpc.topic_queue(min_version.topic))
        cpu = tree_cpu(conductor.pid)
        before = questions(engine)
        probe = MinVersionProbe(min_version)
        fleet = spawn_fleet(config, services, FLEET_PROCESSES,
                            '--register-within', str(within))
        outputs = [fleet_output(process) for process in fleet]
        after = questions(engine)
        cpu = tree_cpu(conductor.pid) - cpu
        latencies = probe.stop() or [float('inf')]
        # Registrations only, not what the probe's answered calls cost.
        per_call, _ = idle_calls(engine, min_version)
        answered = sum(latency < float('inf') for latency in latencies)
        statements = after - before - 1 - per_call * answered
    finally:
        kill(conductor)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            'SELECT COUNT(*) FROM services')).scalar()
    return Storm(sum(out['calls'] for out in outputs),
                 sum(out['failed'] for out in outputs), rows,
                 max(out['seconds'] for out in outputs), statements, cpu,
                 [latency for out in outputs for latency in out['latencies']],
                 (percentile(latencies, 0.5), percentile(latencies, 0.99)))


def list_seconds(rpcapi, ctxt):
    times = []
    for _ in range(3):
        started = time.perf_counter()
        services = rpcapi.service_get_all(ctxt)
        times.append(time.perf_counter() - started)
    return len(services), statistics.median(times)


@contextlib.contextmanager
def deployment(services):
    """A fresh database seeded with ``services``, a fresh topic, cfg.CONF
    loaded from their config file; yields (config path, engine)."""
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
        yield config, engine
    finally:
        rpc.cleanup()
        sa_api.configure()
        engine.dispose()
        server_db.drop_database(db_url)
        server_db.dispose()
        delete_queue()
        shutil.rmtree(workdir, ignore_errors=True)


def conductor_argv(server, config):
    if server == 'stock':
        return [sys.executable, os.path.join(TOOLS, 'stock_conductor.py'),
                '--config-file', config]
    return [os.path.join(os.path.dirname(sys.executable),
                         'sgconductor-conductor'), '--config-file', config]


def min_version_call(server):
    """get_min_version as the API side asks it of ``server``; ``.topic``
    is the topic it is sent to."""
    ctxt = conductor_rpcapi.admin_context()
    if server == 'stock':
        target = stock_target()
        client = rpc.get_client(target, timeout=30)

        def call():
            return client.call(ctxt, 'get_min_version',
                               binaries=[heartbeat_fleet.BINARY])
    else:
        target = messaging.Target(
            topic=conductor_rpcapi.versions_topic(CONF.conductor.topic))
        rpcapi = conductor_rpcapi.ConductorAPI()

        def call():
            return rpcapi.get_min_version(ctxt, heartbeat_fleet.BINARY)
    call.topic = target.topic
    return call


def run_drain(server, services, heartbeats):
    """The drain, then (sgconductor) the listing, on a fresh deployment."""
    with deployment(services) as (config, engine):
        argv = conductor_argv(server, config)
        result = drain(argv, config, engine, services, heartbeats,
                       min_version_call(server))
        if server != 'sgconductor':
            return result, None
        conductor = spawn(argv)
        try:
            wait_for_consumer(rpc.topic_queue(CONF.conductor.topic))
            return result, list_seconds(conductor_rpcapi.ConductorAPI(),
                                        conductor_rpcapi.admin_context())
        finally:
            kill(conductor)


def run_sustained(server, services, interval, seconds, raw=False):
    with deployment(services) as (config, engine):
        return sustain(server, config, engine, services, interval, seconds,
                       raw)


def run_storm(server, services, within):
    with deployment(0) as (config, engine):
        return storm(conductor_argv(server, config), config, engine,
                     services, within, min_version_call(server))


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
    parser.add_argument('--services', type=int, nargs='*', default=[10000],
                        help='Registered services (N) of the drain; '
                             'several values make several runs, none '
                             'skips the drain (default 10000).')
    parser.add_argument('--heartbeats', type=int, default=100000,
                        help='Heartbeats queued for sgconductor (M).')
    parser.add_argument('--baseline-heartbeats', type=int, default=5000,
                        help='Heartbeats queued for the baseline.')
    parser.add_argument('--sustain-services', type=int, nargs='*',
                        default=[10000],
                        help='Services of the sustained run; several '
                             'values make several runs, none skips it '
                             '(default 10000).')
    parser.add_argument('--interval', type=float, default=10,
                        help='Their report interval (s).')
    parser.add_argument('--sustain-seconds', type=float, default=300,
                        help='Length of the sustained run (0: skip it).')
    parser.add_argument('--overload-services', type=int, nargs='*',
                        default=[],
                        help='Services of a sustained run whose casts are '
                             'published raw (tools/heartbeat_fleet.py '
                             '--raw), to offer more than the conductor '
                             'takes; several values make several runs.')
    parser.add_argument('--storm-services', type=int, default=10000,
                        help='Services of the registration storm.')
    parser.add_argument('--storm-seconds', type=float, default=10,
                        help='Seconds within which they start (0: skip '
                             'the storm).')
    parser.add_argument('--skip-baseline', action='store_true',
                        help='Only measure sgconductor (while tuning).')
    args = parser.parse_args()
    servers = ['stock', 'sgconductor'][args.skip_baseline:]
    if args.services:
        print_drains(servers, args.services, {
            'stock': args.baseline_heartbeats,
            'sgconductor': args.heartbeats})
    if args.storm_seconds:
        print_storms(servers, args.storm_services, args.storm_seconds)
    if args.sustain_seconds and args.sustain_services:
        print_sustained(servers, args.sustain_services, args.interval,
                        args.sustain_seconds)
    if args.sustain_seconds and args.overload_services:
        print_sustained(servers, args.overload_services, args.interval,
                        args.sustain_seconds, raw=True)


def print_drains(servers, fleets, heartbeats):
    print('Drain\n%-12s %8s %10s %5s %8s %8s %12s %9s %7s %7s %7s %7s %6s'
          % ('server', 'services', 'heartbeats', 'lost', 'drain/s',
             'cpu/1000',
             'statements/s', 'stmt/1000', 'mv p50', 'mv p99', 'idle50',
             'idle99', 'list'), flush=True)
    for services in fleets:
        for server in servers:
            result, listed = run_drain(server, services, heartbeats[server])
            print('%-12s %8d %10d %5d %8.0f %8.3f %12.1f %9.1f %7.1f %7.1f '
                  '%7.1f %7.1f %6s' % (
                      server, services, result.heartbeats, result.lost,
                      (result.heartbeats - result.lost) / result.seconds,
                      1000.0 * result.cpu / result.heartbeats,
                      result.statements / result.seconds,
                      1000.0 * result.statements / result.heartbeats,
                      *result.min_version_ms,
                      '%.2f' % listed[1] if listed else '-'), flush=True)


def print_sustained(servers, fleets, interval, seconds, raw=False):
    print('\n%s: services every %g s for %g s (service_down_time %d s)\n'
          '%-12s %8s %9s %8s %12s %9s %10s %10s %6s %8s %7s %7s %7s %7s '
          '%7s %5s' % (
              'Overload (raw casts)' if raw else 'Sustained',
              interval, seconds, CONF.service_down_time, 'server',
              'services', 'offered/s', 'cpu/1000', 'statements/s',
              'stmt/1000', 'depth max', 'depth end', 'down', 'unknown',
              'checks', 'lag', 'mv p50', 'mv p99', 'drained', 'lost'),
          flush=True)
    for services in fleets:
        for server in servers:
            result = run_sustained(server, services, interval, seconds, raw)
            print('%-12s %8d %9.0f %8.3f %12.1f %9.1f %10d %10d %6d %8d %7d '
                  '%7.1f %7.1f %7.1f %7s %5s' % (
                      server, services, result.rate,
                      1000.0 * result.cpu / result.rate, result.statements,
                      1000.0 * result.statements / result.rate,
                      result.depth_max, result.depth_end, result.false_down,
                      result.unknown, result.checks, result.sender_lag,
                      *result.min_version_ms,
                      '-' if result.drained is None
                      else '%.0f' % result.drained,
                      '-' if result.lost is None else result.lost),
                  flush=True)


def print_storms(servers, services, within):
    print('\nRegistration storm: %d new services starting within %g s\n'
          '%-12s %6s %6s %6s %8s %8s %8s %9s %8s %7s %7s' % (
              services, within, 'server', 'rows', 'failed', 'done',
              'p50 ms', 'p99 ms', 'max ms', 'stmt/reg', 'cpu/1000',
              'mv p50', 'mv p99'),
          flush=True)
    for server in servers:
        result = run_storm(server, services, within)
        latencies = result.latencies or [float('inf')]
        print('%-12s %6d %6d %6.1f %8.0f %8.0f %8.0f %9.2f %8.3f %7.1f %7.1f'
              % ((server, result.rows, result.failed, result.seconds,
                  percentile(latencies, 0.5), percentile(latencies, 0.99),
                  max(latencies), result.statements / result.calls,
                  1000.0 * result.cpu / result.calls)
                 + result.min_version_ms), flush=True)


if __name__ == '__main__':
    main()
