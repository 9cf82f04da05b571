# SPDX-License-Identifier: Apache-2.0
"""The reporter against a real in-process conductor."""

import logging
import threading
import time

import pytest
from oslo_config import cfg

from sgconductor import exception
from sgconductor import reporter as sg_reporter
from sgconductor import service as sg_service
from sgconductor.conductor import rpcapi as conductor_rpcapi
from tests.unit.test_manager import wait_for

CONF = cfg.CONF


def make_loop(hosts, interval=0.2, version=1):
    rpcapi = conductor_rpcapi.ConductorAPI()
    reporters = [sg_reporter.Reporter(rpcapi, host, 'nova-compute',
                                      service_version=version)
                 for host in hosts]
    return sg_reporter.ReportLoop(reporters, interval), rpcapi


def by_host(rpcapi, ctxt):
    return {s['host']: s for s in rpcapi.service_get_all(ctxt)}


def test_fleet_registers_reports_and_sends_a_last_report(conductor, ctxt):
    loop, rpcapi = make_loop(['a', 'b', 'c'])
    loop.start()
    try:
        wait_for(lambda: len(by_host(rpcapi, ctxt)) == 3
                 and all(s['report_count'] >= 3
                         for s in by_host(rpcapi, ctxt).values()))
    finally:
        loop.stop()

    def counts():
        return {h: s['report_count']
                for h, s in by_host(rpcapi, ctxt).items()}

    # The last reports are casts, counted in memory and written by the
    # next flush: let them land (unchanged over more than a flush
    # interval), then nothing may follow.
    def settled():
        before = counts()
        time.sleep(CONF.conductor.flush_interval + 0.3)
        return before if counts() == before else None

    final = wait_for(settled)
    time.sleep(3 * loop.interval)
    assert counts() == final, 'reports went on after stop()'
    assert all(r.registered for r in loop.reporters)


def test_first_reports_are_spread_over_one_interval(conductor, ctxt,
                                                    monkeypatch):
    delays = []
    real_uniform = sg_reporter.random.uniform

    def recording_uniform(low, high):
        value = real_uniform(low, high)
        delays.append((low, high, value))
        return value

    monkeypatch.setattr(sg_reporter.random, 'uniform', recording_uniform)
    loop, rpcapi = make_loop(['a', 'b', 'c', 'd'], interval=5)
    loop.start()
    try:
        wait_for(lambda: len(delays) == 4)
    finally:
        loop.stop(final_report=False)
    assert all((low, high) == (0, 5) and 0 <= v <= 5
               for low, high, v in delays)


def test_lost_and_recovered_are_logged_once_each(db, ctxt, caplog):
    caplog.set_level(logging.INFO, logger='sgconductor.outage')
    loop, rpcapi = make_loop(['a'])
    loop.reporters[0].rpcapi.timeout = 0.3
    loop.start()
    try:
        time.sleep(2.0)  # several registration attempts, no conductor
        server = sg_service.Conductor()
        server.start()
        try:
            wait_for(lambda: loop.reporters[0].registered, timeout=10)
            wait_for(lambda: by_host(rpcapi, ctxt)['a']['report_count'] >= 3)
        finally:
            server.stop()
    finally:
        loop.stop(final_report=False)
    messages = [r.getMessage() for r in caplog.records]
    assert sum('Lost contact' in m for m in messages) == 1
    assert sum('recovered' in m for m in messages) == 1


def test_deleted_service_stops_reporting(conductor, ctxt):
    loop, rpcapi = make_loop(['a'])
    rpcapi.register_service(ctxt, {'host': 'a', 'binary': 'nova-compute',
                                   'version': 1})
    reporter = loop.reporters[0]
    reporter.register(ctxt)
    rpcapi.service_delete(ctxt, 'a', 'nova-compute')
    reporter.register(ctxt)
    assert reporter.deleted
    reporter.uuid = None  # a fresh process would register anew
    reporter.deleted = False
    reporter.register(ctxt)
    assert by_host(rpcapi, ctxt)['a']['report_count'] == 1


def test_reporter_survives_unexpected_errors(conductor, ctxt, caplog):
    loop, rpcapi = make_loop(['a'])
    calls = []

    def broken(ctxt, payload):
        calls.append(payload)
        raise RuntimeError('boom')

    rpcapi.report_state = broken
    loop.start()
    try:
        wait_for(lambda: len(calls) >= 2)
        assert loop._thread.is_alive()
    finally:
        loop.stop(final_report=False)
    assert 'Unexpected error while reporting' in caplog.text


def test_while_no_broker_takes_casts_one_reporter_tries_a_second(
        conductor, ctxt, caplog, monkeypatch):
    """A fleet of one process does not cast (and fail, and have
    oslo.messaging log it) once per service during a broker outage."""
    monkeypatch.setattr(sg_reporter, 'CAST_PROBE_INTERVAL', 0.5)
    caplog.set_level(logging.INFO, logger='sgconductor.outage')
    loop, rpcapi = make_loop(['cn%d' % n for n in range(20)], interval=0.2)
    cast = rpcapi.report_state
    tried, sent = [], []
    broker_down = threading.Event()

    def report_state(ctxt, payload):
        if broker_down.is_set():
            tried.append(payload['host'])
            raise exception.ConductorUnavailable(topic='t', reason='down')
        sent.append(payload['host'])
        cast(ctxt, payload)

    rpcapi.report_state = report_state
    loop.start()
    try:
        wait_for(lambda: len(set(sent)) == 20)
        broker_down.set()
        time.sleep(2.0)
        broker_down.clear()
        del sent[:]
        wait_for(lambda: len(set(sent)) == 20)
    finally:
        loop.stop(final_report=False)
    # 2 s of 20 services every 0.2 s: 200 casts; one a half second tried.
    assert 1 <= len(tried) <= 6, tried
    assert loop.skipped > 100
    messages = [r.getMessage() for r in caplog.records]
    assert sum('Lost contact with the conductor' in m
               for m in messages) == 1
    assert sum('Contact with the conductor recovered' in m
               for m in messages) == 1


@pytest.mark.parametrize('size,expected', [
    (1, ['cn']), (3, ['cn-00001', 'cn-00002', 'cn-00003'])])
def test_fleet_host_names(size, expected):
    from sgconductor.cmd import compute
    assert compute.fleet_hosts('cn', size) == expected


def test_stop_sends_a_last_report(conductor, ctxt, monkeypatch):
    # First report due in a minute: only stop() can send one before that.
    monkeypatch.setattr(sg_reporter.random, 'uniform', lambda low, high: high)
    loop, rpcapi = make_loop(['a'], interval=60)
    loop.start()
    wait_for(lambda: loop.reporters[0].registered)
    assert by_host(rpcapi, ctxt)['a']['report_count'] == 1
    loop.stop()
    wait_for(lambda: by_host(rpcapi, ctxt)['a']['report_count'] == 2)


def test_a_refused_reporter_stops_instead_of_looping(conductor, ctxt,
                                                     caplog):
    loop, rpcapi = make_loop(['bad host '])
    loop.start()
    try:
        wait_for(lambda: loop.reporters[0].refused)
        time.sleep(3 * loop.interval)
    finally:
        loop.stop()
    assert caplog.text.count('The conductor refuses') == 1
    assert 'Unexpected error' not in caplog.text


def test_a_too_old_fleet_is_told_why_once_all_are_refused(conductor, ctxt):
    refusals = []
    loop, rpcapi = make_loop(['a', 'b'], version=0)
    loop._on_refused = refusals.append
    loop.start()
    try:
        wait_for(lambda: refusals)
    finally:
        loop.stop()
    assert all(reporter.refused for reporter in loop.reporters)
    (refusal,) = refusals
    assert isinstance(refusal, exception.ServiceTooOld)
    assert 'older than the oldest this conductor serves' in str(refusal)


def test_stop_gives_up_on_a_blocked_step(conductor, ctxt):
    loop, rpcapi = make_loop(['a'])
    blocked = threading.Event()
    release = threading.Event()

    def hanging(ctxt, payload):
        blocked.set()
        release.wait(30)

    rpcapi.report_state = hanging
    loop.start()
    try:
        wait_for(blocked.is_set)
        started = time.monotonic()
        assert loop.stop(timeout=0.5) is False
        assert time.monotonic() - started < 5
    finally:
        release.set()
