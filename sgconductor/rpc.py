# SPDX-License-Identifier: Apache-2.0
"""Messaging plumbing shared by the conductor and its clients.

One transport per process, built from ``transport_url`` on cfg.CONF (see
``sgconductor.conf`` for why it is never a private ConfigOpts), and a
serializer that carries an oslo.context RequestContext across the wire.
"""

import contextlib
import re
import ssl
import uuid

import amqp.exceptions
import kombu
import kombu.connection
import oslo_messaging as messaging
from oslo_config import cfg
from oslo_context import context as oslo_context
from stevedore import driver as stevedore_driver
from stevedore import exception as stevedore_exception

from sgconductor import exception

CONF = cfg.CONF

# Exceptions from these modules are re-raised on the client with their own
# class instead of a RemoteError.
ALLOWED_EXMODS = ['sgconductor.exception']

_TRANSPORT = None
_BROKER_SEEN = False

# How long a client waits for the broker to accept a TCP connection.
BROKER_CONNECT_TIMEOUT = 5


def create_transport():
    """A new RPC transport from transport_url."""
    return messaging.get_rpc_transport(
        CONF, allowed_remote_exmods=ALLOWED_EXMODS)


def get_transport():
    """The process-wide RPC transport, created on first use."""
    global _TRANSPORT
    if _TRANSPORT is None:
        _TRANSPORT = create_transport()
    return _TRANSPORT


def cleanup():
    """Close the transport's connections (clean stop, tests)."""
    global _TRANSPORT
    if _TRANSPORT is not None:
        _TRANSPORT.cleanup()
        _TRANSPORT = None


def check_transport_url():
    """Raise ConfigInvalid unless transport_url names a usable driver."""
    try:
        url = messaging.TransportURL.parse(CONF, CONF.transport_url)
        # As oslo.messaging does: 'kombu+memory' is the kombu driver.
        stevedore_driver.DriverManager('oslo.messaging.drivers',
                                       url.transport.split('+')[0])
    except (messaging.InvalidTransportURL, ValueError,
            stevedore_exception.NoMatches) as exc:
        raise exception.ConfigInvalid(
            option='[DEFAULT] transport_url',
            reason=exception.first_line(exc) or 'unknown transport')


def _transport_url():
    return messaging.TransportURL.parse(CONF, CONF.transport_url)


def _ssl_options():
    """kombu's ``ssl`` argument from [oslo_messaging_rabbit], as
    oslo.messaging builds it, so that a broker with TLS is reached the same
    way by every connection of the conductor."""
    rabbit = CONF.oslo_messaging_rabbit
    if not rabbit.ssl:
        return False
    options = {}
    if rabbit.ssl_key_file:
        options['keyfile'] = rabbit.ssl_key_file
    if rabbit.ssl_cert_file:
        options['certfile'] = rabbit.ssl_cert_file
    if rabbit.ssl_ca_file:
        options['ca_certs'] = rabbit.ssl_ca_file
        options['cert_reqs'] = ssl.CERT_REQUIRED
    return options or True


def broker_count():
    """How many brokers transport_url names (at least one)."""
    return max(1, len(_transport_url().hosts))


def broker_connections():
    """One unconnected kombu Connection per broker of transport_url, in
    order (``kombu+memory://``: kombu's in-memory transport)."""
    url = _transport_url()
    driver, _, kombu_transport = url.transport.partition('+')
    if driver not in ('rabbit', 'kombu'):
        raise exception.ConfigInvalid(
            option='[DEFAULT] transport_url',
            reason='the conductor needs RabbitMQ (rabbit://), not %s'
                   % url.transport)
    if kombu_transport:
        return [kombu.Connection(hostname='localhost',
                                 transport=kombu_transport)]
    rabbit = CONF.oslo_messaging_rabbit
    return [kombu.Connection(
        hostname=host.hostname, port=host.port, userid=host.username,
        password=host.password, virtual_host=url.virtual_host or '/',
        transport='pyamqp', connect_timeout=BROKER_CONNECT_TIMEOUT,
        heartbeat=rabbit.heartbeat_timeout_threshold, ssl=_ssl_options())
        for host in url.hosts]


def broker_cycle():
    """Fresh, unconnected kombu Connections to the brokers of
    transport_url, without end, in the order
    ``[oslo_messaging_rabbit] kombu_failover_strategy`` gives: kombu's own
    strategies, which oslo.messaging's connections follow too
    (``round-robin``: the first broker, then each next one in turn;
    ``shuffle``: a random one each time)."""
    brokers = broker_connections()
    strategy = kombu.connection.failover_strategies[
        CONF.oslo_messaging_rabbit.kombu_failover_strategy]
    for broker in strategy(brokers):
        yield broker.clone()


@contextlib.contextmanager
def first_broker():
    """A kombu Connection to the first broker of transport_url that
    answers, in failover order (broker_cycle), released afterwards; raises
    OSError, naming each broker's error, if none does."""
    brokers = broker_cycle()
    errors = []
    for _ in range(len(broker_connections())):
        connection = next(brokers)
        try:
            # One attempt: connect() would wait 2 s and try again.
            connection.ensure_connection(max_retries=0)
        except Exception as exc:
            errors.append('%s: %s' % (connection.host, exc))
            connection.collect()
            continue
        try:
            yield connection
        finally:
            connection.release()
        return
    raise OSError('no RabbitMQ broker reachable (%s)' % '; '.join(errors))


def queue_consumers(queue):
    """How many consumers the broker counts on the queue named ``queue``
    (a passive declaration), or None if no broker could say."""
    try:
        with first_broker() as connection:
            _, _, consumers = connection.default_channel.queue_declare(
                queue=queue, passive=True)
            return consumers
    except Exception:
        return None


def check_queues(topics, fanout_topics=()):
    """Declare the queues of ``topics`` and the fanout exchanges of
    ``fanout_topics`` as this configuration has them declared (topic_queue,
    fanout_queue). Raises BrokerQueueMismatch naming every queue and
    exchange the broker holds with other settings (a deployment switched
    to quorum queues, say), rather than have each consumer fail on them in
    a loop; OSError if no broker answers."""
    entities = []
    for topic in topics:
        queue = topic_queue(topic)
        entities += [queue.exchange, queue]
    entities += [fanout_queue(topic).exchange for topic in fanout_topics]
    refused = []
    with first_broker() as connection:
        for entity in entities:
            bound = entity(connection.channel())
            try:
                if isinstance(bound, kombu.Queue):
                    bound.queue_declare()
                else:
                    bound.declare()
            except amqp.exceptions.PreconditionFailed as exc:
                refused.append(exc)
    if refused:
        names = sorted({'%s %s' % match.groups() for exc in refused
                        for match in [_REFUSED.search(str(exc))] if match})
        raise exception.BrokerQueueMismatch(
            names=', '.join(names) or 'queues',
            reason=exception.first_line(refused[0]))


# What RabbitMQ names in a 406 PRECONDITION_FAILED of a declaration.
_REFUSED = re.compile(r"for (queue|exchange) '([^']*)'")


def topic_queue(topic):
    """The queue of ``topic`` as oslo.messaging's RPC server declares it
    (exchange ``control_exchange``, durability and queue type from
    [oslo_messaging_rabbit]), so that either may declare it first."""
    rabbit = CONF.oslo_messaging_rabbit
    durable = rabbit.amqp_durable_queues or rabbit.rabbit_quorum_queue
    arguments = {}
    if rabbit.rabbit_ha_queues:
        arguments['x-ha-policy'] = 'all'
    if rabbit.rabbit_quorum_queue:
        arguments['x-queue-type'] = 'quorum'
        for option, argument in (
                ('rabbit_quorum_delivery_limit', 'x-delivery-limit'),
                ('rabbit_quorum_max_memory_length', 'x-max-in-memory-length'),
                ('rabbit_quorum_max_memory_bytes', 'x-max-in-memory-bytes')):
            if rabbit[option]:
                arguments[argument] = rabbit[option]
    exchange = kombu.Exchange(CONF.control_exchange, 'topic',
                              durable=durable,
                              auto_delete=rabbit.amqp_auto_delete)
    return kombu.Queue(topic, exchange, routing_key=topic, durable=durable,
                       auto_delete=rabbit.amqp_auto_delete,
                       queue_arguments=arguments or None)


def fanout_queue(topic):
    """A queue of this process alone, bound to the exchange that
    oslo.messaging's fanout casts to ``topic`` go to (declared as
    oslo.messaging declares it). Exclusive: it goes away with the
    connection that declared it, so a listener that dies leaves nothing
    behind on the broker."""
    exchange = kombu.Exchange(
        '%s_fanout' % topic, 'fanout', auto_delete=True,
        durable=CONF.oslo_messaging_rabbit.rabbit_transient_quorum_queue)
    return kombu.Queue('%s_fanout_%s' % (topic, uuid.uuid4().hex), exchange,
                       routing_key=topic, exclusive=True, auto_delete=True)


def ensure_broker_reachable():
    """Raise OSError unless one RabbitMQ host of transport_url answers.

    oslo.messaging opens the reply queue of a first call on a connection
    that retries forever, so a call with the broker down would hang the
    caller instead of timing out. Checked once per process, before the
    first call; later outages make calls time out as usual.
    """
    global _BROKER_SEEN
    if _BROKER_SEEN or _transport_url().transport != 'rabbit':
        return
    with first_broker():
        _BROKER_SEEN = True


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


def get_server(target, endpoints, transport=None):
    """An RPC server that dispatches only methods marked @expose."""
    return messaging.get_rpc_server(
        transport or get_transport(), target, endpoints,
        serializer=RequestContextSerializer(),
        access_policy=messaging.ExplicitRPCAccessPolicy)
