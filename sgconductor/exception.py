# SPDX-License-Identifier: Apache-2.0
"""The sgconductor exception tree.

::

    SGConductorException            message template filled from kwargs
     +-- ConfigInvalid              a config option has a bad value
     +-- Invalid                    a caller sent something unusable
     |    +-- InvalidReport         a report_state/registration payload
     |    |    +-- ServiceTooOld    from a service older than supported
     |    +-- InvalidUpdate         a service_update payload
     +-- ServiceNotFound            no live row for host/binary, uuid or id
     +-- DatabaseUnavailable        the conductor cannot reach its database
     +-- DatabaseError              the database refused a statement
     +-- DatabaseNotReady           the schema is not at this code's head
     +-- ConductorUnavailable       a client cannot reach the conductor
     +-- ConductorError             the conductor failed unexpectedly
     +-- ConductorTooOld            a call needs a newer conductor RPC API
     +-- LivenessBackendUnavailable the tooz backend cannot be used
     +-- BrokerQueueMismatch        a queue's settings cannot change in place

Exceptions raised by the conductor's RPC endpoint travel back to callers
with their class intact: ``sgconductor.exception`` is in the RPC clients'
``allowed_remote_exmods``.
"""


def first_line(exc):
    """An exception's first line: remote ones carry the server traceback."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class SGConductorException(Exception):
    msg_fmt = 'An unknown error occurred.'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            message = self.msg_fmt % kwargs
        super().__init__(message)


class ConfigInvalid(SGConductorException):
    msg_fmt = 'Invalid configuration value for %(option)s: %(reason)s'


class Invalid(SGConductorException):
    msg_fmt = 'Invalid input: %(reason)s'


class InvalidReport(Invalid):
    msg_fmt = 'Invalid report from %(sender)s: %(field)s %(reason)s'


class ServiceTooOld(InvalidReport):
    msg_fmt = ('%(binary)s on %(sender)s runs service version %(version)s, '
               'older than the oldest this conductor serves (%(oldest)s): '
               'upgrade it.')


class InvalidUpdate(Invalid):
    msg_fmt = 'Invalid service update: %(field)s %(reason)s'


class ServiceNotFound(SGConductorException):
    msg_fmt = 'Service %(binary)s on host %(host)s could not be found.'

    def __init__(self, message=None, **kwargs):
        """Named by host and binary, or by ``uuid`` or ``id`` alone."""
        if message is None and 'host' not in kwargs:
            message = 'Service %s could not be found.' % (
                kwargs.get('uuid') or kwargs.get('id'))
        super().__init__(message, **kwargs)


class DatabaseUnavailable(SGConductorException):
    msg_fmt = 'The conductor cannot reach its database: %(reason)s'


class ConductorUnavailable(SGConductorException):
    msg_fmt = ('Cannot reach the conductor on topic %(topic)s: %(reason)s. '
               'Check that sgconductor-conductor is running and that '
               'transport_url points at its broker.')


class DatabaseError(SGConductorException):
    msg_fmt = 'The database refused a statement: %(reason)s'


class LivenessBackendUnavailable(SGConductorException):
    msg_fmt = 'The liveness backend cannot be used: %(reason)s'


class DatabaseNotReady(SGConductorException):
    msg_fmt = ('The database schema is at revision %(current)s but this code '
               'needs %(head)s; run "sgconductor-manage db sync".')


class ConductorError(SGConductorException):
    msg_fmt = 'The conductor failed to handle %(method)s: %(reason)s'


class ConductorTooOld(SGConductorException):
    msg_fmt = ('Cannot %(action)s: that needs conductor RPC version '
               '%(needed)s, and this service may send up to %(cap)s '
               '([upgrade_levels] conductor = %(level)s). Upgrade every '
               'conductor first.')


class BrokerQueueMismatch(SGConductorException):
    msg_fmt = ('The broker holds %(names)s with other settings than this '
               'configuration declares (%(reason)s). A queue\'s or an '
               'exchange\'s type and durability cannot change in place: '
               'stop every conductor, delete each of them (rabbitmqctl '
               'delete_queue NAME; rabbitmqadmin delete exchange name=NAME), '
               'then start them with the new [oslo_messaging_rabbit] '
               'settings, or go back to the old ones. Quorum queues also '
               'need amqp_auto_delete = false.')
