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
from oslo_log import log as logging

from sgconductor.conductor import deliveries

LOG = logging.getLogger(__name__)

# The envelope version oslo.messaging has written since 2013.
ENVELOPE_VERSION = '2.0'


class Poison(Exception):
    """A message this conductor cannot handle; the text says why.

    ``call``: the oslo.messaging message (a dict), if the envelope could
    be read: a caller waiting for an answer can then be told why.
    """

    def __init__(self, reason, call=None):
        super().__init__(reason)
        self.call = call


def drop(counts, topic, reason):
    """Count (as ``counts['poison']``) and log a message taken off
    ``topic`` that is dropped for ``reason``."""
    counts['poison'] += 1
    LOG.warning('Dropped a message from queue %(topic)s: %(reason)s '
                '(%(count)d dropped so far).',
                {'topic': topic, 'reason': reason,
                 'count': counts['poison']})


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


def unpack(body, headers, api_version, methods):
    """The oslo.messaging message (a dict) a delivery carries.

    ``body`` is None for a delivery too large to read. Raises Poison for
    anything but a message of one of ``methods``, of a version
    ``api_version`` serves, with a dict of arguments.
    """
    if body is None:
        raise Poison('larger than %d bytes' % deliveries.MAX_BODY)
    codec = headers.get('compression')
    try:
        if codec:
            body = compression.decompress(body, codec)
        wrapped = orjson.loads(body)
    except Exception as exc:
        raise Poison('not JSON (%s)' % type(exc).__name__)
    try:
        version = wrapped['oslo.version']
        message = _loads_message(wrapped['oslo.message'])
    except (TypeError, KeyError, ValueError):
        raise Poison('not an oslo.messaging message')
    if str(version).split('.')[0] != ENVELOPE_VERSION.split('.')[0]:
        raise Poison('oslo.messaging envelope %r is not supported' % version)
    if not isinstance(message, dict):
        raise Poison('not an oslo.messaging message')
    method = message.get('method')
    if method not in methods:
        raise Poison('method %r is not served on this topic' % (method,),
                     message)
    if not version_is_compatible(api_version, message.get('version')):
        raise Poison('RPC API version %r is not compatible with %s'
                     % (message.get('version'), api_version), message)
    if not isinstance(message.get('args'), dict):
        raise Poison('its arguments are not a dict', message)
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


def _failure(exc):
    """An exception as oslo.messaging serializes it, without the
    traceback (the server's, of no use to the caller)."""
    return orjson.dumps({
        'class': type(exc).__name__, 'module': type(exc).__module__,
        'message': str(exc), 'tb': [], 'args': exc.args,
        'kwargs': getattr(exc, 'kwargs', {})}, default=str).decode()
