# SPDX-License-Identifier: Apache-2.0
"""Errors as Nova's API answers them.

A handler raises ``Fault(code, message)``; the application renders it as
Nova does: ``{"badRequest": {"code": 400, "message": "..."}}``, the outer
key named after the status (``computeFault`` for any other).
"""

import webob

from sgconductor import exception

# Nova's names (nova/api/openstack/wsgi.py, Fault._fault_names).
FAULT_NAMES = {
    400: 'badRequest',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'itemNotFound',
    405: 'badMethod',
    409: 'conflictingRequest',
    413: 'overLimit',
    415: 'badMediaType',
    429: 'overLimit',
    501: 'notImplemented',
    503: 'serviceUnavailable',
}

# What the conductor's errors become, first match wins.
ERROR_CODES = (
    (exception.ServiceNotFound, 404),
    (exception.Invalid, 400),
    (exception.ConductorTooOld, 409),
    (exception.ConductorUnavailable, 503),
    (exception.DatabaseUnavailable, 503),
)

# Longest message sent back: an echoed value must not make a huge answer.
MAX_MESSAGE = 1000
# Longest value a message echoes in full.
MAX_SHOWN = 64


def shown(value):
    """``value`` as an error message echoes it: cut if long."""
    return value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + '...'


class Fault(Exception):
    """An error response to send: status ``code``, a one-line message
    and any ``headers`` it needs (Allow, with a 405)."""

    def __init__(self, code, message, headers=None):
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE - 3] + '...'
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self):
        name = FAULT_NAMES.get(self.code, 'computeFault')
        response = webob.Response(
            status=self.code, content_type='application/json',
            charset='utf-8',
            json_body={name: {'code': self.code, 'message': self.message}})
        response.headers.update(self.headers)
        return response


def not_found():
    return Fault(404, 'The resource could not be found.')


def not_allowed(method, allowed):
    return Fault(405, 'The method %s is not allowed on this resource.'
                 % method, headers={'Allow': ', '.join(sorted(allowed))})


def for_error(error):
    """The Fault a conductor error becomes (ERROR_CODES), or None for one
    that is not the caller's doing nor an outage."""
    for error_class, code in ERROR_CODES:
        if isinstance(error, error_class):
            return Fault(code, exception.first_line(error))
    return None
