# SPDX-License-Identifier: Apache-2.0
"""The version server: get_min_version and get_max_version answered on
their own queue, anything else as oslo.messaging's server would, without
stopping it."""

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

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
    poison = [b'\xff not json',
              # Casts, run (or refused) as a stock server would.
              envelope(method='get_min_version'),
              envelope(method='report_state'),
              # A reply queue name over AMQP's 255 bytes (not characters):
              # unanswerable, so a cast.
              envelope(method='get_min_version',
                       args={'binaries': ['nova-compute']},
                       _msg_id='m1', _reply_q='\u00e9' * 200)]
    publish_raw(poison, conductor_rpcapi.versions_topic(CONF.conductor.topic))
    # Answered after the poison, which is not delivered again.
    assert rpcapi.get_min_version(ctxt, 'nova-compute') == 4
    assert rpcapi.get_max_version(ctxt, 'nova-compute') == 4
    counts = conductor.version_server.counts
    assert (counts['poison'], counts['dispatched']) == (1, 3)
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


def _raised(call):
    """The class name of what ``call()`` raised, as the caller sees it:
    one it does not allow comes as a RemoteError of that name."""
    try:
        call()
    except messaging.RemoteError as exc:
        return exc.exc_type
    except Exception as exc:
        return type(exc).__name__.removesuffix('_Remote')
    return None


@pytest.mark.parametrize('method,args,raised', [
    ('service_delete', {'host': 'h', 'binary': 'b'}, 'NoSuchMethod'),
    ('get_min_version', {'binary': 'nova-compute'}, 'TypeError'),
    ('get_max_version', {'binaries': 'nova-compute'}, 'Invalid'),
])
def test_a_call_it_cannot_answer_is_told_why(conductor, ctxt, method,
                                             args, raised):
    """Answered as oslo.messaging's server would (a call left unanswered
    would raise MessagingTimeout instead)."""
    assert _raised(lambda: versions_client().call(
        ctxt, method, **args)) == raised


def test_an_incompatible_version_is_refused(conductor, ctxt):
    client = versions_client().prepare(version='2.0')
    assert _raised(lambda: client.call(
        ctxt, 'get_min_version',
        binaries=['nova-compute'])) == 'UnsupportedVersion'


def test_clients_that_ask_on_the_conductor_topic_are_still_answered(
        conductor, rpcapi, ctxt):
    """Clients older than the versions topic ask on the conductor topic."""
    rpcapi.register_service(ctxt, report('cn1', version=6))
    client = rpc.get_client(messaging.Target(topic=CONF.conductor.topic,
                                             version='1.0'))
    assert client.call(ctxt, 'get_max_version',
                       binaries=['nova-compute']) == {'nova-compute': 6}
    assert conductor.version_server.counts['answered'] == 0
