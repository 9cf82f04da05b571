#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Two conductors on Galera: one writer node, or a writer node each.

Operators run Galera behind a virtual address (HAProxy: every client on
one node, the others standing by) or let each controller's services write
through their own node. Writes through several nodes are certified
against each other at commit: two transactions on two nodes that touch
one row cannot both commit, and the loser is refused ("Deadlock: wsrep
aborted transaction") and run again (db/conflicts.py).

For each setup, on a fresh database of the lab's Galera cluster
(``tools/ha-lab.sh``; the broker is the single RabbitMQ of
``tools/test-setup.sh``): two sgconductor-conductor processes, A through
node 1 and B through node 1 (one writer) or node 2 (several writers),
take the heartbeats of ``--services`` services reporting every
``--interval`` s for ``--seconds`` s, then a registration storm: the
first ``--storm`` of them registering again within ``--storm-within`` s,
as a fleet restarted at once does. Printed per setup:
heartbeats sent and written (lost = sent - written), the transactions
Galera refused and the conductors ran again (``conductor_counters``), the
storm's registrations, failed calls and seconds, and the p50 / p99 of a
registration.

    python tools/bench_galera.py --services 3000 --interval 2 --seconds 60
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import sqlalchemy as sa
from oslo_config import cfg

from sgconductor import rpc
from sgconductor.db import conflicts
from sgconductor.db import migration
from sgconductor.db.sqlalchemy import api as sa_api

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from tests.functional import databases  # noqa: E402
from tests.functional import halab  # noqa: E402
from tools import bench_scale  # noqa: E402
from tools import heartbeat_fleet  # noqa: E402

CONF = cfg.CONF
# Processes the simulated fleet runs in.
FLEET_PROCESSES = 4
# Seconds to wait for the last heartbeats to be written.
DRAIN_LIMIT = 60
SETUPS = (('one writer', 1), ('several writers', 2))


def start_conductor(config, workdir, host, node, db_name):
    extra = os.path.join(workdir, '%s.conf' % host)
    with open(extra, 'w') as f:
        f.write('[DEFAULT]\nhost = %s\nlog_file = %s\n'
                '[database]\nconnection = %s\n'
                % (host, os.path.join(workdir, '%s.log' % host),
                   halab.galera_url(node, db_name)))
    return bench_scale.spawn(bench_scale.conductor_argv(
        'sgconductor', config) + ['--config-file', extra])


def retries(engine):
    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            'SELECT COALESCE(SUM(value), 0) FROM conductor_counters '
            'WHERE name = :name'), {'name': conflicts.RETRIES}).scalar())


def fleet_reports(engine):
    """Reports recorded of the simulated fleet (not of the conductors)."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            'SELECT COALESCE(SUM(report_count), 0) FROM services '
            'WHERE `binary` = :binary'),
            {'binary': heartbeat_fleet.BINARY}).scalar())


def wait_written(engine, expected):
    deadline = time.monotonic() + DRAIN_LIMIT
    while time.monotonic() < deadline:
        if fleet_reports(engine) >= expected:
            return
        time.sleep(0.5)


def run(setup_node, args):
    server = databases.Server('mysql', halab.galera_url(1))
    db_url = server.create_database()
    workdir = tempfile.mkdtemp(prefix='sgbench-galera-')
    config = bench_scale.write_config(workdir, db_url,
                                      'sgbench-%d' % os.getpid())
    CONF(['--config-file', config], project='sgconductor')
    sa_api.configure()
    migration.upgrade()
    engine = sa.create_engine(db_url, pool_size=1)
    conductors = []
    try:
        bench_scale.seed(engine, args.services)
        conductors = [start_conductor(config, workdir, 'ctl-a', 1,
                                      db_url.database),
                      start_conductor(config, workdir, 'ctl-b', setup_node,
                                      db_url.database)]
        bench_scale.wait_for_consumer(rpc.topic_queue(CONF.conductor.topic))
        before = fleet_reports(engine)
        fleet = bench_scale.spawn_fleet(
            config, args.services, FLEET_PROCESSES, '--interval',
            str(args.interval), '--duration', str(args.seconds))
        sent = sum(bench_scale.fleet_output(p)['casts'] for p in fleet)
        wait_written(engine, before + sent)
        written = fleet_reports(engine) - before
        # The first --storm services register again, as a fleet restarted
        # at once does.
        storm = bench_scale.spawn_fleet(
            config, args.storm, FLEET_PROCESSES, '--register-within',
            str(args.storm_within))
        outputs = [bench_scale.fleet_output(p) for p in storm]
    finally:
        for conductor in conductors:
            bench_scale.kill(conductor)   # SIGTERM: last counts written
    counted = retries(engine)
    engine.dispose()
    sa_api.configure()
    server.drop_database(db_url)
    server.dispose()
    latencies = sorted(latency for out in outputs
                       for latency in out['latencies'])
    return {'sent': sent, 'written': written, 'retries': counted,
            'calls': sum(out['calls'] for out in outputs),
            'failed': sum(out['failed'] for out in outputs),
            'storm_s': max(out['seconds'] for out in outputs),
            'p50': bench_scale.percentile(latencies, 0.5),
            'p99': bench_scale.percentile(latencies, 0.99)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--services', type=int, default=3000)
    parser.add_argument('--interval', type=float, default=2)
    parser.add_argument('--seconds', type=float, default=60)
    parser.add_argument('--storm', type=int, default=2000)
    parser.add_argument('--storm-within', type=float, default=10)
    args = parser.parse_args()
    subprocess.run([halab.SCRIPT, 'start'], check=True,
                   stdout=subprocess.DEVNULL)
    print('%d services every %g s for %g s, then %d registering again '
          'within %g s; two conductors' % (args.services, args.interval,
                                    args.seconds, args.storm,
                                    args.storm_within))
    print('%-16s %9s %9s %5s %8s %6s %6s %8s %8s %8s' % (
        'setup', 'hb sent', 'written', 'lost', 'retried', 'regs', 'failed',
        'storm s', 'p50 ms', 'p99 ms'))
    for name, node in SETUPS:
        r = run(node, args)
        print('%-16s %9d %9d %5d %8d %6d %6d %8.1f %8.0f %8.0f' % (
            name, r['sent'], r['written'], r['sent'] - r['written'],
            r['retries'], r['calls'], r['failed'], r['storm_s'], r['p50'],
            r['p99']), flush=True)


if __name__ == '__main__':
    main()
