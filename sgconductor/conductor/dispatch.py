# SPDX-License-Identifier: Apache-2.0
"""Any message a fast path does not take, handled by oslo.messaging's own
dispatcher, so every client sees what a stock RPC server would answer.

The heartbeat intake and the call servers read oslo.messaging messages
themselves (``envelope.py``) and handle the usual ones fast: on their
topic, a message of one of its methods, with no namespace, a version the
endpoint serves (a message without one is 1.0, as oslo.messaging reads
it) and a dict of arguments (``Endpoint.usual``). Anything else (an
unknown method, a namespace, an unsupported version, arguments the
method does not take, a cast where the fast path answers calls or a call
where it takes casts) is handed to oslo.messaging's ``RPCDispatcher``
over the endpoint a stock ``RPCServer`` of that topic would serve, with
the serializer of the conductor topic's server (``rpc.get_server``) and
its access policy narrowed to the topic's methods. What it returns or
raises is what the caller gets back, as oslo.messaging's server would
send it (``Endpoint.handle``); for a cast, nothing is sent.
``tests/functional/test_conformance.py`` sends the same messages to a
stock server and to the project's.
"""

import re

import oslo_messaging as messaging

from sgconductor import rpc
from sgconductor.conductor import envelope
from sgconductor.conductor import rejected

# The message keys that carry the caller's context (oslo.messaging's
# amqp driver strips the prefix).
_CONTEXT_PREFIX = '_context_'
# A version the fast paths compare themselves; any other string (or none
# of a string) is left to the dispatcher, which decides.
_PLAIN_VERSION = re.compile(r'^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$')


def only(methods):
    """The access policy of a topic that serves ``methods`` of an
    endpoint: what ``rpc.get_server``'s allows, and nothing else."""

    class TopicMethods(messaging.ExplicitRPCAccessPolicy):

        def is_allowed(self, endpoint, method):
            return (method in methods
                    and super().is_allowed(endpoint, method))

    return TopicMethods


def reply_to(message):
    """The queue to answer ``message`` on, or None: a cast (or a call no
    one could answer, whose reply queue or id is not an AMQP short
    string)."""
    reply_q = message.get('_reply_q')
    if _is_name(reply_q) and _is_name(message.get('_msg_id')):
        return reply_q
    return None


def _is_name(value):
    return (isinstance(value, str)
            and 0 < len(value.encode('utf-8', 'surrogatepass')) <= 255)


class _Incoming:
    """What RPCDispatcher.dispatch reads of a message."""

    # No call-monitor heartbeats: none of these methods takes long.
    client_timeout = None

    def __init__(self, message):
        self.message = message
        self.ctxt = {key[len(_CONTEXT_PREFIX):]: value
                     for key, value in message.items()
                     if isinstance(key, str)
                     and key.startswith(_CONTEXT_PREFIX)}


class Endpoint:
    """``methods`` of ``endpoint`` (an object with oslo.messaging's
    ``target``) as ``topic`` serves them."""

    def __init__(self, endpoint, methods, topic):
        self.methods = methods
        self.topic = topic
        self.version = endpoint.target.version
        self.access_policy = only(methods)
        self._dispatcher = messaging.RPCDispatcher(
            [endpoint], rpc.RequestContextSerializer(),
            access_policy=self.access_policy)

    def usual(self, message):
        """True if the fast path may handle ``message`` (a dict) itself:
        oslo.messaging would call ``endpoint.<method>(context, **args)``
        with it."""
        version = message.get('version', '1.0')
        return (message.get('method') in self.methods
                and message.get('namespace') is None
                and isinstance(version, str)
                and _PLAIN_VERSION.match(version) is not None
                and envelope.version_is_compatible(self.version, version)
                and isinstance(message.get('args', {}), dict))

    def handle(self, message, answered):
        """Dispatch ``message`` as oslo.messaging's RPCServer does:
        ``(result, None)``, or ``(None, exception)`` to send back (the
        one an endpoint declared expected, or whatever it raised), which
        is counted and logged at a bounded rate (``answered``: to its
        caller; else dropped)."""
        try:
            return self._dispatcher.dispatch(_Incoming(message)), None
        except messaging.ExpectedException as expected:
            failure = expected.exc_info[1]
        except Exception as exc:
            failure = exc
        rejected.refused(self.topic, message.get('method'), failure,
                         answered)
        return None, failure
