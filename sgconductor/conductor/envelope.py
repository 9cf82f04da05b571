# SPDX-License-Identifier: Apache-2.0
"""oslo.messaging's wire format, read and written without oslo.messaging.

The heartbeat intake and the call servers (``callserver.py``) take
messages straight off their queues with kombu. Clients are ordinary
oslo.messaging RPC clients, so all read what those publish: an
envelope ``{"oslo.version": "2.0", "oslo.message": "<JSON>"}`` whose
message holds ``method``, ``args``, ``version`` and ``_unique_id``, and
for a call ``_msg_id`` and ``_reply_q``. A call server answers a call as
oslo.messaging's own server does (``oslo_messaging._drivers.amqpdriver``):
a message of the same envelope, published to ``_reply_q`` through the
default exchange, holding ``result``, ``failure``, ``ending`` and
``_msg_id``.
"""

import json
import uuid

import orjson
from kombu import compression

from sgconductor.conductor import deliveries

# The envelope version oslo.messaging has written since 2013.
ENVELOPE_VERSION = '2.0'


class Poison(Exception):
    """A message that cannot be read as an oslo.messaging message (or,
    from ``unpack``, is not one its reader takes); the text says why,
    ``reason`` is a slug of it (conductor/rejected.py)."""

    def __init__(self, reason, why):
        super().__init__(why)
        self.reason = reason


def version_is_compatible(served, sent):
    """True if a server of version ``served`` can take a message of
    ``sent`` (same major, not a newer minor): oslo.messaging's rule."""
    try:
        served_major, served_minor = served.split('.')
        sent_major, sent_minor = str(sent).split('.')
        return (sent_major == served_major
                and int(sent_minor) <= int(served_minor))
    except ValueError:
        return False


def read(body, headers):
    """The oslo.messaging message (a dict) a delivery carries, whatever
    its method, version and arguments.

    ``body`` is None for a delivery too large to read (raises Poison, as
    for anything that is not an oslo.messaging envelope).
    """
    if body is None:
        raise Poison('too_large', 'larger than %d bytes'
                     % deliveries.MAX_BODY)
    codec = headers.get('compression')
    try:
        if codec:
            body = compression.decompress(body, codec)
        wrapped = orjson.loads(body)
    except Exception as exc:
        raise Poison('not_json', 'not JSON (%s)' % type(exc).__name__)
    try:
        version = wrapped['oslo.version']
        message = _loads_message(wrapped['oslo.message'])
    except (TypeError, KeyError, ValueError):
        raise Poison('not_oslo_message', 'not an oslo.messaging message')
    if str(version).split('.')[0] != ENVELOPE_VERSION.split('.')[0]:
        raise Poison('envelope_version', 'oslo.messaging envelope %r is '
                     'not supported' % (version,))
    if not isinstance(message, dict):
        raise Poison('not_oslo_message', 'not an oslo.messaging message')
    return message


def unpack(body, headers, api_version, methods):
    """``read``, for a reader of ``methods`` of version ``api_version``
    (a message without one is 1.0) with a dict of arguments: the API's
    version announcements, with no caller to answer. Raises Poison for
    anything else."""
    message = read(body, headers)
    method = message.get('method')
    if method not in methods:
        raise Poison('NoSuchMethod', 'method %r is not served on this '
                     'topic' % (method,))
    version = message.get('version', '1.0')
    if not version_is_compatible(api_version, version):
        raise Poison('UnsupportedVersion', 'RPC API version %r is not '
                     'compatible with %s' % (version, api_version))
    if not isinstance(message.get('args'), dict):
        raise Poison('TypeError', 'its arguments are not a dict')
    return message


def _loads_message(text):
    """The message JSON as oslo.messaging reads it. Its client writes a
    float argument that is infinite or NaN as ``Infinity`` or ``NaN``,
    which orjson refuses and the standard library reads: such a call is
    a bad call, answered with InvalidReport by the checks, not a message
    to drop unanswered (its caller would wait for call_timeout)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def reply(msg_id, result=None, failure=None):
    """The body of the answer to call ``msg_id``: ``result``, or the
    exception ``failure``, which the caller raises again (as its own
    class if its module is one the caller allows)."""
    message = {'result': result, 'failure': failure and _failure(failure),
               'ending': True, '_msg_id': msg_id,
               '_unique_id': uuid.uuid4().hex}
    return orjson.dumps({'oslo.version': ENVELOPE_VERSION,
                         'oslo.message': orjson.dumps(message).decode()})


def publish(channel, reply_q, body):
    """Publish a reply on ``channel``, without kombu's Producer
    (declarations, serializers, compression: none of which a reply
    needs), which costs as much again as the publish itself."""
    channel.basic_publish(
        channel.prepare_message(body, content_type='application/json',
                                content_encoding='utf-8',
                                properties={'delivery_mode': 1}),
        exchange='', routing_key=reply_q)


def _failure(exc):
    """An exception as oslo.messaging serializes it, without the
    traceback (the server's, of no use to the caller)."""
    return orjson.dumps({
        'class': type(exc).__name__, 'module': type(exc).__module__,
        'message': str(exc), 'tb': [], 'args': exc.args,
        'kwargs': getattr(exc, 'kwargs', {})}, default=str).decode()
