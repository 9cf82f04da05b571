# SPDX-License-Identifier: Apache-2.0
"""The sgconductor-api WSGI application.

::

    RequestId            X-OpenStack-Request-ID on every response
     HTTPProxyToWSGI     honours X-Forwarded-* behind a proxy (if enabled)
      RequestBodySizeLimiter   413 beyond [oslo_middleware]
                               max_request_body_size
       Root              / and /v2.1/: the version documents (public)
        auth.wrap(...)   the rest: authentication ([api] auth_strategy)
         Protected
          API            /v2.1/...: routes, microversions, policy, faults
          Metrics        /metrics for Prometheus

``build_app()`` assembles it; ``sgconductor-api`` serves it standalone,
``sgconductor.api.wsgi:application`` under uWSGI or mod_wsgi.
"""

import routes
import webob
import webob.dec
import webob.exc
from oslo_log import log as logging
from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import request_id
from oslo_middleware import sizelimit

from sgconductor import exception
from sgconductor.api import auth
from sgconductor.api import faults
from sgconductor.api import metrics
from sgconductor.api import microversion
from sgconductor.api import policy
from sgconductor.api import services
from sgconductor.api import versions
from sgconductor.conductor import rpcapi as conductor_rpcapi

LOG = logging.getLogger(__name__)

def _json(status, body):
    if body is None:
        return webob.Response(status=status)
    return webob.Response(status=status, content_type='application/json',
                          charset='utf-8', json_body=body)


class API:
    """/v2.1/...: every handler of the compute API this service serves."""

    def __init__(self, rpcapi, rules):
        controller = services.ServiceController(rpcapi, rules)
        self.mapper = routes.Mapper()
        # Route name -> {HTTP method: handler}.
        self.handlers = {}
        self._connect('services', '/os-services', GET=controller.index)
        self._connect('purge', '/os-services/purge', POST=controller.purge)
        self._connect('service', '/os-services/{id}',
                      PUT=controller.update, DELETE=controller.delete)

    def _connect(self, name, path, **handlers):
        self.mapper.connect(name, path)
        self.handlers[name] = handlers

    def _handler(self, req):
        found = self.mapper.routematch(req.path_info.rstrip('/') or '/')
        if found is None:
            raise faults.not_found()
        arguments, route = found
        handlers = self.handlers[route.name]
        if req.method not in handlers:
            raise faults.not_allowed(req.method, handlers)
        return handlers[req.method], arguments

    @webob.dec.wsgify
    def __call__(self, req):
        version = None
        try:
            handler, kwargs = self._handler(req)
            version = microversion.from_request(req)
            response = _json(*handler(req, version, **kwargs))
        except faults.Fault as fault:
            response = fault.response()
        except exception.SGConductorException as error:
            fault = faults.for_error(error)
            if fault is None:
                LOG.error('%s %r failed: %s', req.method,
                          req.environ['PATH_INFO'],
                          exception.first_line(error))
                fault = faults.Fault(500, 'Unexpected API Error: %s'
                                     % exception.first_line(error))
            response = fault.response()
        except webob.exc.HTTPRequestEntityTooLarge as error:
            # A chunked body found too long while it was read.
            response = faults.Fault(413, error.explanation).response()
        except Exception:
            LOG.exception('%s %r failed unexpectedly', req.method,
                          req.environ['PATH_INFO'])
            response = faults.Fault(
                500, 'Unexpected API Error. The sgconductor-api log has '
                     'the details.').response()
        if version is not None:
            microversion.add_headers(response, version)
        return response


class Root:
    """The version documents, without authentication; the rest to
    ``protected``, behind it."""

    def __init__(self, protected):
        self.protected = protected

    @webob.dec.wsgify
    def __call__(self, req):
        try:
            path = req.path_info.rstrip('/')
        except UnicodeDecodeError:
            return faults.Fault(400, 'The URL is not valid UTF-8.'
                                ).response()
        if path in ('', '/' + versions.PREFIX):
            if req.method not in ('GET', 'HEAD'):
                return faults.not_allowed(req.method,
                                          ('GET', 'HEAD')).response()
            document = (versions.root if path == '' else versions.v21)(
                req.application_url)
            return _json(200, document)
        return req.get_response(self.protected)


class Protected:
    """What needs authentication: /v2.1/... and /metrics."""

    def __init__(self, api, metrics_app):
        self.api = api
        self.metrics = metrics_app

    @webob.dec.wsgify
    def __call__(self, req):
        if req.path_info.rstrip('/') == '/metrics':
            return req.get_response(self.metrics)
        if req.path_info_peek() == versions.PREFIX:
            req.path_info_pop()
            return req.get_response(self.api)
        return faults.not_found().response()


def build_app(rpcapi=None):
    """The whole application. Raises ConfigInvalid if the policy file or
    the authentication's configuration cannot be used."""
    rpcapi = rpcapi or conductor_rpcapi.ConductorAPI()
    rules = policy.Policy()
    app = Root(auth.wrap(Protected(API(rpcapi, rules),
                                   metrics.Metrics(rpcapi, rules))))
    app = sizelimit.RequestBodySizeLimiter(app)
    app = http_proxy_to_wsgi.HTTPProxyToWSGI(app)
    return request_id.RequestId(app)
