# SPDX-License-Identifier: Apache-2.0
"""The registration server: register_service answered on its own queue,
the calls waiting there written together."""

import concurrent.futures

import pytest
from oslo_config import cfg

from sgconductor import exception
from sgconductor.conductor import rpcapi as conductor_rpcapi
from tests.inprocess import envelope
from tests.inprocess import publish_raw
from tests.inprocess import report
from tests.inprocess import statements
from tests.inprocess import verbs

CONF = cfg.CONF


def test_registrations_are_answered_on_their_own_queue(conductor, rpcapi,
                                                       ctxt):
    answer = rpcapi.register_service(ctxt, report('cn1'))
    assert answer['outcome'] == 'created'
    assert answer['service']['state'] == 'up'
    assert abs(answer['service']['clock_skew']) <= 1
    assert conductor.registration_server.counts['answered'] == 1
    # Registering again (a restart) updates the same row.
    again = rpcapi.register_service(
        ctxt, dict(report('cn1', version=2), uuid=answer['service']['uuid']))
    assert (again['outcome'], again['service']['id'],
            again['service']['version']) == (
        'updated', answer['service']['id'], 2)


def test_a_herd_of_registrations_gives_one_row_each(conductor, rpcapi,
                                                    ctxt):
    hosts = ['cn%03d' % i for i in range(60)]
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(
            lambda host: rpcapi.register_service(ctxt, report(host)),
            hosts))
    assert {a['outcome'] for a in answers} == {'created'}
    assert sorted(s['host'] for s in rpcapi.service_get_all(ctxt)) == hosts
    assert conductor.registration_server.counts['answered'] == len(hosts)


def test_a_batch_is_one_transaction_and_a_bad_registration_costs_itself(
        conductor, rpcapi, ctxt):
    deleted = rpcapi.register_service(ctxt, report('gone'))['service']
    rpcapi.service_delete(ctxt, 'gone', 'nova-compute')
    batch = [report('cn1'), report('cn2', version='two'),
             dict(report('gone'), uuid=deleted['uuid']), report('cn3')]
    with statements(conductor.manager.dbapi) as seen:
        results = conductor.manager.register_services(batch)
    assert [r['outcome'] if isinstance(r, dict) else type(r)
            for r in results] == [
        'created', exception.InvalidReport, 'deleted', 'created']
    assert verbs(seen).count('INSERT') == 1
    assert sorted(s['host'] for s in rpcapi.service_get_all(ctxt)) == [
        'cn1', 'cn3']


def test_a_refused_registration_reaches_its_caller(conductor, rpcapi,
                                                   ctxt):
    with pytest.raises(exception.InvalidReport, match='version'):
        rpcapi.register_service(ctxt, report('cn1', version=-1))
    assert conductor.registration_server.counts['failed'] == 1
    assert rpcapi.service_get_all(ctxt) == []


@pytest.mark.parametrize('number', [float('inf'), float('-inf'),
                                    float('nan')])
def test_a_non_finite_number_is_refused_not_left_unanswered(
        conductor, rpcapi, ctxt, number):
    # oslo.messaging's client writes it as Infinity or NaN, which strict
    # JSON parsers refuse: a caller would wait for call_timeout.
    with pytest.raises(exception.InvalidReport, match='host'):
        rpcapi.register_service(ctxt, dict(report('cn1'), host=number))
    assert conductor.registration_server.counts['failed'] == 1
    assert conductor.registration_server.counts['poison'] == 0


def test_poison_is_dropped_and_anything_else_handled_as_stock(
        conductor, rpcapi, ctxt, caplog):
    poison = [b'\xff not json',
              # A cast registers, unanswered, as on a stock server.
              envelope(method='register_service'),
              # A call of another method is told there is none.
              envelope(method='service_delete', _msg_id='m1',
                       _reply_q='nobody')]
    publish_raw(poison, conductor_rpcapi.registrations_topic(
        CONF.conductor.topic))
    assert rpcapi.register_service(ctxt, report('cn1'))[
        'outcome'] == 'created'
    counts = conductor.registration_server.counts
    assert (counts['poison'], counts['dispatched']) == (1, 2)
    assert 'not JSON' in caplog.text
    assert "call of 'service_delete'" in caplog.text
    assert sorted(s['host'] for s in rpcapi.service_get_all(ctxt)) == [
        'cn1', 'host1']
