#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""One process of a simulated fleet casting report_state to a conductor.

Services ``--first`` to ``--first + --count - 1`` of the fleet each cast an
ordinary oslo.messaging report_state (through ConductorAPI, as
sgconductor-compute does) to the conductor topic of ``--config-file``.
Service ``i`` is host ``sim-NNNNNN`` with uuid ``UUID(int=i + 1)``, the
rows tools/bench_scale.py seeds, so its heartbeats are coalesced from the
first one. A fleet of N is several of these processes side by side.

Three modes:

``--interval S --duration D``
    every service reports every S seconds, its first report at a random
    moment of the first interval (jittered starts), for D seconds;
``--rounds R``
    every service reports R times, as fast as the process can cast (to
    fill the queue of a stopped conductor);
``--register-within S``
    a registration storm: every service starts at a random moment of the
    next S seconds and registers (a register_service call, as a starting
    sgconductor-compute does), from up to STORM_THREADS calls at once.

``--herd START --duration D``
    a thundering herd: every service starts at the wall-clock time START
    (``time.time()``), registers, and reports every ``report_interval``
    of the config file for D seconds, as the library's Reporter would
    (see ``Herd``).

``--raw`` sends the casts of the first two modes faster than an
oslo.messaging client can on this machine (about 1,300 a second per
process), to offer more load than the conductor can take: one cast is
made with oslo.messaging to a private topic and read back from the
broker, and every cast is then published as that message, with the
service's arguments and a unique id of its own, by py-amqp without
publisher confirms. The conductor receives the same bytes either way.

Prints one JSON line at exit: casts, seconds, and how late the casts were
against their schedule (``late`` counts casts more than 1 s late): a
process that cannot keep up shows it instead of silently sending less.
A storm prints the calls, the failed ones, and each registration's
latency in ms, from the moment its service started to the answer (time
spent waiting for a free thread of this process included). A herd prints
how late it started, the failed registration calls, each service's
registration latency (ms) and the moment of its first report (s after
START).
"""

import argparse
import concurrent.futures
import heapq
import json
import random
import sys
import time
import uuid

import amqp
from amqp import spec
from oslo_config import cfg
from oslo_utils import timeutils

from sgconductor import cmd  # noqa: F401 (quiets library deprecations)
from sgconductor import conf as sg_conf  # noqa: F401 (registers options)
from sgconductor import reporter as reporter_lib
from sgconductor import rpc
from sgconductor.conductor import rpcapi as conductor_rpcapi

CONF = cfg.CONF
BINARY = 'nova-compute'
VERSION = 1
# Registrations of one storm process in flight at once.
STORM_THREADS = 256


def service(index):
    """Host and uuid of simulated service ``index`` (see module doc)."""
    return 'sim-%06d' % index, str(uuid.UUID(int=index + 1))


def report(index):
    host, service_uuid = service(index)
    return {'host': host, 'binary': BINARY, 'topic': 'compute',
            'version': VERSION, 'availability_zone': 'nova',
            'uuid': service_uuid}


def schedule(first, count, interval, duration):
    """(due time offset, service index) in time order."""
    offsets = sorted((random.uniform(0, interval), index)
                     for index in range(first, first + count))
    rounds = max(1, int(duration // interval))
    for r in range(rounds):
        for offset, index in offsets:
            yield r * interval + offset, index


def storm(client, ctxt, reports, within):
    """Register every service of ``reports`` at a random moment of the
    next ``within`` seconds."""
    start = time.monotonic()
    plan = sorted((random.uniform(0, within), index) for index in reports)

    def register(due, index):
        try:
            client.register_service(ctxt, reports[index])
        except Exception:
            return None
        return (time.monotonic() - start - due) * 1000

    with concurrent.futures.ThreadPoolExecutor(STORM_THREADS) as pool:
        futures = []
        for due, index in plan:
            time.sleep(max(0, due - (time.monotonic() - start)))
            futures.append(pool.submit(register, due, index))
        latencies = [future.result() for future in futures]
    answered = [latency for latency in latencies if latency is not None]
    return {'calls': len(latencies), 'failed': len(latencies) - len(answered),
            'seconds': round(time.monotonic() - start, 3),
            'latencies': [round(latency, 1) for latency in answered]}


class Herd:
    """Services that all start at one moment, simulated by their traffic:
    each registers at once with a register_service call to the
    registrations topic, as the library's Reporter does (1.6), asked
    again one interval after a call timed out; once answered, it reports
    after the library's own random delay (``first_report_delay``), then
    every interval. The calls and casts are published as oslo.messaging
    would, by py-amqp from one thread, and the replies read from one
    reply queue: ten thousand library ReportLoops in a few processes
    spend the machine's CPU on oslo.messaging's client side instead of
    leaving it to the conductor.
    """

    def __init__(self, ctxt, reports, start):
        self.reports = reports
        self.start = start
        self.caster = RawCaster(ctxt)
        self.channel = self.caster.channel
        self.reply_q = 'reply_herd_%s' % uuid.uuid4().hex
        self.channel.queue_declare(self.reply_q, exclusive=True,
                                   auto_delete=True)
        self.channel.basic_consume(self.reply_q, callback=self._replied,
                                   no_ack=True)
        queue = rpc.topic_queue(conductor_rpcapi.registrations_topic(
            CONF.conductor.topic))
        self.calls_to = (queue.exchange.name, queue.routing_key)
        self.pending = {}     # msg id -> (service index, deadline)
        self.due = []         # heap of (time.time(), service index)
        self.registered_at = {}
        self.first_report_at = {}
        self.failed = 0

    def _call(self, index):
        msg_id = uuid.uuid4().hex
        args = dict(self.reports[index],
                    sent_at=timeutils.utcnow().isoformat())
        args.pop('uuid')
        message = {'method': 'register_service', 'args': args,
                   'namespace': None, 'version': '1.5', '_msg_id': msg_id,
                   '_reply_q': self.reply_q, '_unique_id': uuid.uuid4().hex}
        body = json.dumps({'oslo.version': '2.0',
                           'oslo.message': json.dumps(message)})
        self.channel.basic_publish(
            amqp.Message(body.encode(), content_type='application/json',
                         content_encoding='utf-8'),
            exchange=self.calls_to[0], routing_key=self.calls_to[1])
        self.pending[msg_id] = (index, time.time() + CONF.conductor.
                                call_timeout)

    def _replied(self, message):
        reply = json.loads(json.loads(message.body)['oslo.message'])
        index, _ = self.pending.pop(reply['_msg_id'], (None, None))
        if index is None:
            return  # answered after its caller gave up
        now = time.time()
        if reply.get('failure'):
            self.failed += 1
            heapq.heappush(self.due, (now + CONF.report_interval, -1 - index))
            return
        self.registered_at[index] = now - self.start
        self.reports[index]['uuid'] = reply['result']['service']['uuid']
        heapq.heappush(self.due, (
            now + reporter_lib.first_report_delay(CONF.report_interval),
            index))

    def _expire(self, now):
        """Calls unanswered after call_timeout: asked again an interval
        later."""
        for msg_id, (index, deadline) in list(self.pending.items()):
            if deadline < now:
                del self.pending[msg_id]
                self.failed += 1
                heapq.heappush(self.due, (now + CONF.report_interval,
                                          -1 - index))

    def _read_replies(self, timeout):
        """Every reply that arrives within ``timeout`` s (py-amqp hands
        over one per drain_events)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.caster.connection.drain_events(
                    timeout=max(0, deadline - time.monotonic()))
            except TimeoutError:
                return

    def run(self, ctxt, duration):
        late = time.time() - self.start
        time.sleep(max(0, -late))
        for index in self.reports:
            self._call(index)
        next_expiry = 0
        while time.time() < self.start + duration:
            now = time.time()
            if now >= next_expiry:
                self._expire(now)
                next_expiry = now + 1
            while self.due and self.due[0][0] <= now:
                _, index = heapq.heappop(self.due)
                if index < 0:
                    self._call(-1 - index)
                    continue
                self.caster.report_state(ctxt, self.reports[index])
                self.first_report_at.setdefault(index, now - self.start)
                heapq.heappush(self.due, (now + CONF.report_interval, index))
            self._read_replies(0.05)
        self.caster.connection.release()
        return {'services': len(self.reports),
                'late': round(max(0, late), 3), 'failed': self.failed,
                'latencies': [round(at * 1000, 1)
                              for at in self.registered_at.values()],
                'first_reports': [round(at, 3)
                                  for at in self.first_report_at.values()]}


class RawCaster:
    """report_state casts published as captured (see ``--raw``)."""

    def __init__(self, ctxt):
        envelope, self.properties = self._capture(ctxt)
        self.version = envelope['oslo.version']
        self.message = json.loads(envelope['oslo.message'])
        # Without AMQP heartbeats: this connection only writes, and the
        # broker would close it after two missed ones.
        self.connection = rpc.broker_connections()[0].clone(heartbeat=0)
        self.channel = self.connection.default_channel
        queue = rpc.topic_queue(conductor_rpcapi.reports_topic(
            CONF.conductor.topic))
        self.exchange = queue.exchange.name
        self.routing_key = queue.routing_key

    @staticmethod
    def _capture(ctxt):
        """One cast as oslo.messaging publishes it: its decoded envelope
        and its AMQP properties."""
        topic = 'sgfleet-capture-%s' % uuid.uuid4().hex[:8]
        queue = rpc.topic_queue(conductor_rpcapi.reports_topic(topic))
        with rpc.broker_connections()[0] as connection:
            bound = queue(connection.channel())
            bound.declare()
            try:
                conductor_rpcapi.ConductorAPI(topic).report_state(
                    ctxt, report(0))
                message = None
                while message is None:
                    message = bound.get(no_ack=True)
            finally:
                bound.delete()
        properties = {name: message.properties[name]
                      for name in ('content_type', 'content_encoding',
                                   'delivery_mode', 'priority')
                      if name in message.properties}
        properties['application_headers'] = message.headers
        return json.loads(message.body), properties

    def report_state(self, ctxt, values):
        """Publish one cast; blocks while the broker pushes back (its flow
        control): the load offered then drops, and shows as sender lag.

        The frames are written without ``basic_publish``, whose check for
        a blocked connection reads the socket with a zero timeout and
        fails a publish that flow control merely delayed.
        """
        message = dict(self.message, args=values,
                       _unique_id=uuid.uuid4().hex)
        body = json.dumps({'oslo.version': self.version,
                           'oslo.message': json.dumps(message)})
        self.channel.send_method(
            spec.Basic.Publish, 'Bssbb',
            (0, self.exchange, self.routing_key, False, False),
            amqp.Message(body.encode(), **self.properties))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config-file', required=True)
    parser.add_argument('--first', type=int, default=0)
    parser.add_argument('--count', type=int, required=True)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument('--interval', type=float)
    mode.add_argument('--rounds', type=int)
    mode.add_argument('--register-within', type=float)
    mode.add_argument('--herd', type=float, metavar='START')
    parser.add_argument('--duration', type=float, default=60)
    parser.add_argument('--raw', action='store_true')
    args = parser.parse_args(argv)
    CONF(['--config-file', args.config_file], project='sgconductor')
    ctxt = conductor_rpcapi.admin_context()
    client = (RawCaster(ctxt) if args.raw
              else conductor_rpcapi.ConductorAPI())
    reports = {i: report(i) for i in range(args.first,
                                           args.first + args.count)}
    if args.register_within or args.herd:
        print(json.dumps(
            storm(client, ctxt, reports, args.register_within)
            if args.register_within else
            Herd(ctxt, reports, args.herd).run(ctxt, args.duration)))
        rpc.cleanup()
        return
    if args.rounds:
        plan = ((0, i) for _ in range(args.rounds) for i in reports)
    else:
        plan = schedule(args.first, args.count, args.interval, args.duration)
    start = time.monotonic()
    casts = late = 0
    max_lag = 0.0
    for due, index in plan:
        lag = time.monotonic() - start - due
        if lag < 0:
            time.sleep(-lag)
        elif args.interval:
            max_lag = max(max_lag, lag)
            late += lag > 1
        client.report_state(ctxt, reports[index])
        casts += 1
    seconds = time.monotonic() - start
    if args.raw:
        client.connection.release()
    rpc.cleanup()
    print(json.dumps({'casts': casts, 'seconds': round(seconds, 3),
                      'late': late, 'max_lag': round(max_lag, 3)}))


if __name__ == '__main__':
    sys.exit(main())
