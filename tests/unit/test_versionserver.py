"""The version server: get_min_version and get_max_version answered on
their own queue, anything else refused without stopping it."""

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from sgconductor import exception
from sgconductor import rpc
from sgconductor.conductor import rpcapi as conductor_rpcapi
from tests.inprocess import envelope
from tests.inprocess import publish_raw
from tests.inprocess import report

CONF = cfg.CONF


def versions_client():
    """An oslo.messaging client aimed at the versions topic."""
    return rpc.get_client(messaging.Target(
        topic=conductor_rpcapi.versions_topic(CONF.conductor.topic),
        version='1.0'), timeout=CONF.conductor.call_timeout)


def test_poison_is_dropped_once_and_calls_are_still_answered(
        conductor, rpcapi, ctxt, caplog):
    rpcapi.register_service(ctxt, report('cn1', version=4))
    poison = [b'\xff not json', envelope(method='get_min_version'),
              envelope(method='report_state'),
              # A reply queue name over AMQP's 255 bytes (not characters).
              envelope(method='get_min_version',
                       args={'binaries': ['nova-compute']},
                       _msg_id='m1', _reply_q='\u00e9' * 200)]
    publish_raw(poison, conductor_rpcapi.versions_topic(CONF.conductor.topic))
    # Answered after the poison, which is not delivered again.
    assert rpcapi.get_min_version(ctxt, 'nova-compute') == 4
    assert rpcapi.get_max_version(ctxt, 'nova-compute') == 4
    assert conductor.version_server.counts['poison'] == len(poison)
    assert 'not JSON' in caplog.text


def test_an_unexpected_failure_reaches_the_caller_and_the_log(
        conductor, ctxt, caplog, monkeypatch):
    def broken(binaries, alive_since):
        raise RuntimeError('bug')

    monkeypatch.setattr(conductor.manager.dbapi, 'service_get_min_versions',
                        broken)
    # As from oslo.messaging's server: a builtin exception comes back as
    # itself, any other not allowed as a RemoteError.
    with pytest.raises(RuntimeError, match='bug'):
        versions_client().call(ctxt, 'get_min_version',
                               binaries=['nova-compute'])
    assert 'get_min_version failed' in caplog.text
    assert conductor.version_server.counts['failed'] == 1


@pytest.mark.parametrize('method,args,reason', [
    ('service_delete', {'host': 'h', 'binary': 'b'},
     "method 'service_delete' is not served"),
    ('get_min_version', {'binary': 'nova-compute'},
     'takes exactly the arguments binaries'),
    ('get_max_version', {'binaries': 'nova-compute'},
     'binaries must be a non-empty list'),
])
def test_a_call_it_cannot_answer_is_told_why(conductor, ctxt, method,
                                             args, reason):
    """Answered with Invalid (a call left unanswered would raise
    MessagingTimeout instead)."""
    with pytest.raises(exception.Invalid, match=reason):
        versions_client().call(ctxt, method, **args)


def test_an_incompatible_version_is_refused(conductor, ctxt):
    client = versions_client().prepare(version='2.0')
    with pytest.raises(exception.Invalid, match='not compatible'):
        client.call(ctxt, 'get_min_version', binaries=['nova-compute'])


def test_clients_that_ask_on_the_conductor_topic_are_still_answered(
        conductor, rpcapi, ctxt):
    """Clients older than the versions topic ask on the conductor topic."""
    rpcapi.register_service(ctxt, report('cn1', version=6))
    client = rpc.get_client(messaging.Target(topic=CONF.conductor.topic,
                                             version='1.0'))
    assert client.call(ctxt, 'get_max_version',
                       binaries=['nova-compute']) == {'nova-compute': 6}
    assert conductor.version_server.counts['answered'] == 0
