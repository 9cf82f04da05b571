"""Heartbeats and operator calls do not queue behind each other."""

import threading
import time

import oslo_messaging as messaging
from oslo_config import cfg

from tests.inprocess import report

# More heartbeats than the heartbeat server has threads: with one shared
# server, every thread would be stuck and calls would wait behind them.
FLOOD = cfg.CONF.executor_thread_pool_size + 50


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'condition not met in time'
        time.sleep(0.05)


def test_calls_are_answered_while_heartbeats_are_stuck(conductor, rpcapi,
                                                       ctxt):
    manager = conductor.manager
    registered = rpcapi.register_service(ctxt, report('cn1'))['service']
    gate = threading.Event()
    handled = []
    original = manager.report_state

    @messaging.expose
    def stuck_report_state(context, **beat):
        gate.wait(60)
        original(context, **beat)
        handled.append(beat['host'])

    manager.report_state = stuck_report_state
    try:
        for _ in range(FLOOD):
            rpcapi.report_state(ctxt, dict(report('cn1'),
                                           uuid=registered['uuid']))
        # Every heartbeat thread is busy, the rest of the flood queued...
        (listed,) = rpcapi.service_get_all(ctxt)
        assert listed['report_count'] == 1
        assert rpcapi.get_min_version(ctxt, 'nova-compute') == 1
        assert not handled
    finally:
        gate.set()
    # ...and none of it is lost once the heartbeats move again.
    wait_for(lambda: len(handled) == FLOOD)
    conductor.manager.heartbeats.flush()
    (listed,) = rpcapi.service_get_all(ctxt)
    assert listed['report_count'] == 1 + FLOOD
