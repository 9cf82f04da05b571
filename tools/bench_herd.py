#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A thundering herd: N services starting at the same moment.

A real ``sgconductor-conductor`` runs against the RabbitMQ and MariaDB of
tools/test-setup.sh, on a fresh, empty database (report_interval 10 s,
service_down_time 60 s). tools/heartbeat_fleet.py --herd processes then
start N services at one wall-clock moment, as the library's Reporter
would run each (see ``heartbeat_fleet.Herd``): it registers at once with
a call, and sends its first report after the library's random delay
within one report interval.

Printed, from the moment they all started:

registered
    rows in the database, and registration calls that failed (timed out;
    retried by the library one interval later);
reg p50/p99/max
    registration latency (ms), from the start to the answer;
peak/steady
    the busiest second of first reports against the rate of the steady
    state (N / report_interval): about 1 when the first reports are
    spread as evenly as later ones; without the jitter they would follow
    the registrations, all answered within seconds;
depth max
    the most messages seen waiting in the conductor's registrations queue
    and in its reports queue (sampled every POLL s): each service has at
    most one call in flight, and one report an interval, so neither can
    exceed N;
drained
    seconds until every service is registered and its first heartbeat is
    in the database with both queues empty: the herd has been taken in;
    then ``<= 2 intervals`` says whether that was within two report
    intervals;
down, unknown
    the most services the conductor would have judged down, and unknown,
    at any sample (see bench_scale.judged): any is false, since every
    service reports;
cpu
    CPU seconds of the conductor's processes until drained.

Run it alone on the machine::

    tools/test-setup.sh
    python tools/bench_herd.py --services 10000

``--json`` prints the figures as one JSON object instead
(tests/functional/test_thundering_herd.py checks them).
"""

import argparse
import collections
import json
import os
import sys
import time

import sqlalchemy as sa
from oslo_config import cfg

from sgconductor import rpc
from sgconductor.conductor import rpcapi as conductor_rpcapi

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from tools import bench_scale  # noqa: E402
from tools import heartbeat_fleet  # noqa: E402

CONF = cfg.CONF
# Seconds between two samples of the queues and the database.
POLL = 0.5
# Seconds the herd processes get to start before the common start.
READY = 10
# Seconds the herd runs: long enough to be drained if it ever will.
DURATION_INTERVALS = 6


def counts(engine):
    """(rows, rows whose first heartbeat is written) of the herd (not
    the conductor's own)."""
    with engine.connect() as conn:
        rows, reported = conn.execute(sa.text(
            'SELECT COUNT(*), COALESCE(SUM(report_count > 1), 0) '
            'FROM services WHERE `binary` = :binary'),
            {'binary': heartbeat_fleet.BINARY}).one()
    return int(rows), int(reported)


def peak_vs_steady(first_reports, services, interval):
    """The busiest second of first reports against the steady rate."""
    per_second = collections.Counter(int(moment) for moment in first_reports)
    return max(per_second.values()) / (services / interval)


def herd(config, engine, services, processes):
    interval = CONF.report_interval
    calls = rpc.topic_queue(conductor_rpcapi.registrations_topic(
        CONF.conductor.topic))
    reports = rpc.topic_queue(conductor_rpcapi.reports_topic(
        CONF.conductor.topic))
    conductor = bench_scale.spawn(bench_scale.conductor_argv(
        'sgconductor', config))
    try:
        bench_scale.wait_for_consumer(calls)
        bench_scale.wait_for_consumer(reports)
        cpu = bench_scale.tree_cpu(conductor.pid)
        start = time.time() + READY
        fleet = bench_scale.spawn_fleet(
            config, services, processes, '--herd', str(start),
            '--duration', str(DURATION_INTERVALS * interval))
        depth_calls = depth_reports = down = unknown = 0
        drained = None
        while drained is None and time.time() < start + (
                DURATION_INTERVALS - 1) * interval:
            time.sleep(POLL)
            if time.time() < start:
                continue
            waiting = (bench_scale.queue_depth(calls),
                       bench_scale.queue_depth(reports))
            depth_calls = max(depth_calls, waiting[0])
            depth_reports = max(depth_reports, waiting[1])
            judged = bench_scale.judged(engine, 'sgconductor')
            down, unknown = max(down, judged[0]), max(unknown, judged[1])
            if counts(engine) == (services, services) and not any(waiting):
                drained = time.time() - start
                cpu = bench_scale.tree_cpu(conductor.pid) - cpu
        outputs = [bench_scale.fleet_output(process) for process in fleet]
    finally:
        bench_scale.kill(conductor)
    latencies = [latency for out in outputs
                 for latency in out['latencies']] or [float('inf')]
    return {
        'services': services, 'interval': interval,
        'rows': counts(engine)[0],
        'failed': sum(out['failed'] for out in outputs),
        'late': max(out['late'] for out in outputs),
        'reg_p50': bench_scale.percentile(latencies, 0.5),
        'reg_p99': bench_scale.percentile(latencies, 0.99),
        'reg_max': max(latencies),
        'peak_vs_steady': round(peak_vs_steady(
            [moment for out in outputs for moment in out['first_reports']],
            services, interval), 2),
        'depth_calls': depth_calls, 'depth_reports': depth_reports,
        'drained': drained and round(drained, 1), 'down': down,
        'unknown': unknown, 'cpu': round(cpu, 1) if drained else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--services', type=int, default=10000)
    parser.add_argument('--processes', type=int, default=2,
                        help='Processes simulating the herd.')
    parser.add_argument('--json', action='store_true',
                        help='Print the figures as one JSON object.')
    args = parser.parse_args()
    with bench_scale.deployment(0) as (config, engine):
        result = herd(config, engine, args.services, args.processes)
    if args.json:
        print(json.dumps(result))
        return
    print('Thundering herd: %(services)d services starting at once, '
          'report_interval %(interval)d s\n' % result)
    print('%6s %6s %5s %8s %8s %8s %11s %9s %9s %8s %8s %5s %7s %5s'
          % ('rows', 'failed', 'late', 'reg p50', 'reg p99', 'reg max',
             'peak/steady', 'calls max', 'reps max', 'drained',
             '<= 2 int', 'down', 'unknown', 'cpu'))
    drained = result['drained']
    print('%6d %6d %5.1f %8.0f %8.0f %8.0f %11.2f %9d %9d %8s %8s %5d %7d '
          '%5s' % (
              result['rows'], result['failed'], result['late'],
              result['reg_p50'], result['reg_p99'], result['reg_max'],
              result['peak_vs_steady'], result['depth_calls'],
              result['depth_reports'],
              '-' if drained is None else '%.1f' % drained,
              'yes' if drained is not None
              and drained <= 2 * result['interval'] else 'no',
              result['down'], result['unknown'],
              '-' if result['cpu'] is None else '%.1f' % result['cpu']))


if __name__ == '__main__':
    sys.exit(main())
