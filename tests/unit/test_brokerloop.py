# SPDX-License-Identifier: Apache-2.0
"""The conductor's own connections follow the broker list of
transport_url as oslo.messaging's do (rpc.broker_cycle, BrokerLoop)."""

import itertools
import logging
import re

from sgconductor import rpc
from sgconductor.conductor import brokerloop

# Nothing listens on port 1 of the loopback: every attempt is refused.
THREE_BROKERS = ('rabbit://guest:guest@127.0.0.1:1,guest:guest@127.0.0.2:1,'
                 'guest:guest@127.0.0.3:1/')


def hosts(connections, count):
    return [c.host for c in itertools.islice(connections, count)]


def test_round_robin_goes_through_the_brokers_in_order(conf):
    conf.config(transport_url=THREE_BROKERS)
    assert hosts(rpc.broker_cycle(), 4) == [
        '127.0.0.1:1', '127.0.0.2:1', '127.0.0.3:1', '127.0.0.1:1']


def test_shuffle_picks_among_every_broker(conf):
    conf.config(transport_url=THREE_BROKERS)
    conf.config(kombu_failover_strategy='shuffle',
                group='oslo_messaging_rabbit')
    assert set(hosts(rpc.broker_cycle(), 200)) == {
        '127.0.0.1:1', '127.0.0.2:1', '127.0.0.3:1'}


def test_each_attempt_gets_a_fresh_connection(conf):
    conf.config(transport_url=THREE_BROKERS)
    cycle = rpc.broker_cycle()
    first = next(cycle)
    next(cycle), next(cycle)
    assert next(cycle) is not first


def test_every_broker_is_tried_before_the_loss_is_told(conf, monkeypatch,
                                                       caplog):
    """One round tries every broker at once; only a round in which none
    answered is an outage: logged once, however many rounds, and
    followed by a wait."""
    conf.config(transport_url=THREE_BROKERS)
    monkeypatch.setattr(brokerloop, 'RECONNECT_INTERVAL', 0.01)
    caplog.set_level(logging.DEBUG, logger=brokerloop.__name__)
    loop = brokerloop.BrokerLoop('probe', lambda connection: None,
                                 lambda opened: None)
    loop.start(timeout=0.5)
    loop.stop()
    tried = re.findall(r'could not reach the broker at (\S+):',
                       caplog.text)
    assert tried[:4] == ['127.0.0.1:1', '127.0.0.2:1', '127.0.0.3:1',
                         '127.0.0.1:1'], tried
    assert caplog.text.count('Lost contact with the broker (probe)') == 1
    assert 'Traceback' not in caplog.text
