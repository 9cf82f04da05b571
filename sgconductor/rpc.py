"""Messaging plumbing shared by the conductor and its clients.

One transport per process, built from ``transport_url`` on cfg.CONF (see
``sgconductor.conf`` for why it is never a private ConfigOpts), and a
serializer that carries an oslo.context RequestContext across the wire.
"""

from oslo_config import cfg
from oslo_context import context as oslo_context
import oslo_messaging as messaging

CONF = cfg.CONF

# Exceptions from these modules are re-raised on the client with their own
# class instead of a RemoteError.
ALLOWED_EXMODS = ['sgconductor.exception']

_TRANSPORT = None


def get_transport():
    """The process-wide RPC transport, created on first use."""
    global _TRANSPORT
    if _TRANSPORT is None:
        _TRANSPORT = messaging.get_rpc_transport(
            CONF, allowed_remote_exmods=ALLOWED_EXMODS)
    return _TRANSPORT


def cleanup():
    """Close the transport's connections (clean stop, tests)."""
    global _TRANSPORT
    if _TRANSPORT is not None:
        _TRANSPORT.cleanup()
        _TRANSPORT = None


class RequestContextSerializer(messaging.NoOpSerializer):
    """Sends the caller's RequestContext as a dict and rebuilds it."""

    def serialize_context(self, context):
        return context.to_dict()

    def deserialize_context(self, context):
        return oslo_context.RequestContext.from_dict(context)


def get_client(target, **kwargs):
    return messaging.get_rpc_client(
        get_transport(), target, serializer=RequestContextSerializer(),
        **kwargs)


def get_server(target, endpoints):
    """An RPC server that dispatches only methods marked @expose."""
    return messaging.get_rpc_server(
        get_transport(), target, endpoints,
        serializer=RequestContextSerializer(),
        access_policy=messaging.ExplicitRPCAccessPolicy)
