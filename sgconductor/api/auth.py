# SPDX-License-Identifier: Apache-2.0
"""Authentication: who sent a request, as an oslo.context RequestContext
in ``environ[CONTEXT_KEY]``, by ``[api] auth_strategy``.

- ``http_basic``: oslo.middleware's BasicAuthMiddleware checks the bcrypt
  htpasswd file; the role comes from ``[api] http_basic_roles``, never
  from a request header (a client could send any X-Roles).
- ``keystone``: keystonemiddleware's auth_token validates the token and
  replaces the identity headers, which the context is read from.
- ``noauth``: every request is an admin's.
"""

import importlib

import webob.exc
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_log import log as logging
from oslo_middleware import basic_auth
from oslo_middleware import exceptions as middleware_exceptions

from sgconductor import exception
from sgconductor.conf import api as api_conf

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

CONTEXT_KEY = 'sgconductor.context'
REALM = 'sgconductor'


def _request_id(environ):
    return environ.get('openstack.request_id')


class _ContextMiddleware:
    """Sets ``environ[CONTEXT_KEY]`` from ``make(environ)``, then calls
    the application."""

    def __init__(self, application, make):
        self.application = application
        self.make = make

    def __call__(self, environ, start_response):
        environ[CONTEXT_KEY] = self.make(environ)
        return self.application(environ, start_response)


def _basic_auth_context(environ):
    # BasicAuthMiddleware sets HTTP_X_USER to the authenticated user,
    # over whatever the client sent.
    user = environ['HTTP_X_USER']
    role = CONF.api.http_basic_roles.get(
        user, CONF.api.http_basic_default_role)
    return oslo_context.RequestContext(
        user_id=user, user_name=user, roles=[role],
        request_id=_request_id(environ))


def _noauth_context(environ):
    return oslo_context.RequestContext(
        user_id='noauth', roles=['admin', 'reader'], is_admin=True,
        request_id=_request_id(environ))


class BasicAuth(basic_auth.BasicAuthMiddleware):
    """BasicAuthMiddleware whose 401 asks for credentials
    (WWW-Authenticate), so that curl and browsers know what to send.

    Beware: the base class turns any exception below it into a 401
    logged at INFO, so whatever runs inside (the context, the API) must
    not raise; the API answers every error itself."""

    def format_exception(self, e):
        LOG.info('Unauthenticated request refused: %s',
                 exception.first_line(e))
        response = super().format_exception(e)
        response.headers['WWW-Authenticate'] = 'Basic realm="%s"' % REALM
        return response


def _http_basic(application):
    path = CONF.oslo_middleware.http_basic_auth_user_file
    try:
        return BasicAuth(_ContextMiddleware(application,
                                            _basic_auth_context))
    except (middleware_exceptions.ConfigInvalid, webob.exc.HTTPException):
        # A missing or unreadable file, or an entry that is not bcrypt.
        raise exception.ConfigInvalid(
            option='[oslo_middleware] http_basic_auth_user_file',
            reason='%s is not a readable htpasswd file of bcrypt entries '
                   '(htpasswd -B)' % path)


def _keystone(application):
    try:
        auth_token = importlib.import_module(
            'keystonemiddleware.auth_token')
    except ImportError:
        raise exception.ConfigInvalid(
            option='[api] auth_strategy',
            reason='keystone needs keystonemiddleware: pip install '
                   '"sgconductor[keystone]"')
    return auth_token.AuthProtocol(
        _ContextMiddleware(application,
                           oslo_context.RequestContext.from_environ),
        {'oslo_config_config': CONF})


def _noauth(application):
    LOG.warning('[api] auth_strategy = noauth: every request is served '
                'as an admin\'s, unauthenticated.')
    return _ContextMiddleware(application, _noauth_context)


_STRATEGIES = {
    api_conf.HTTP_BASIC: _http_basic,
    api_conf.KEYSTONE: _keystone,
    api_conf.NOAUTH: _noauth,
}


def wrap(application):
    """``application`` behind the configured authentication."""
    return _STRATEGIES[CONF.api.auth_strategy](application)
