# SPDX-License-Identifier: Apache-2.0
"""Nova's os-services resource, served from the conductor.

Reads and writes go to the conductor over RPC (ConductorAPI); this API
never opens the database. Differences from Nova: services of any binary
can be changed (Nova allows only nova-compute), ``state`` may be
``unknown`` while the conductor cannot judge (see doc/liveness.rst), and
``updated_at`` is when the conductor last heard from the service.
"""

import datetime
import re

from oslo_utils import strutils
from oslo_utils import uuidutils

from sgconductor import exception
from sgconductor.api import auth
from sgconductor.api import faults
from sgconductor.api import microversion
from sgconductor.api import policy
from sgconductor.api import schemas
from sgconductor.conductor import validation

_NOVA_TIME = '%Y-%m-%dT%H:%M:%S.%f'
# What Nova's validate_integer takes for an id before 2.53.
_INTEGER = re.compile(r'-?[0-9]+\Z')


def _nova_time(isotime):
    """Nova's form of a time: always with microseconds, no zone (the
    conductor's times are UTC)."""
    if isotime is None:
        return None
    return datetime.datetime.fromisoformat(isotime).strftime(_NOVA_TIME)


def view(service, version):
    """One service as Nova's os-services shows it at ``version``."""
    shown = {
        'id': (service['uuid'] if version >= microversion.UUID_FOR_ID
               else service['id']),
        'binary': service['binary'],
        'host': service['host'],
        'zone': service['zone'],
        'status': service['status'],
        'state': service['state'],
        'updated_at': _nova_time(service['last_seen_up']
                                 or service['updated_at']),
        'disabled_reason': service['disabled_reason'],
    }
    if version >= microversion.FORCED_DOWN:
        shown['forced_down'] = service['forced_down']
    return shown


class ServiceController:
    """GET, PUT and DELETE on /os-services, and POST on
    /os-services/purge. Each handler returns (status, body) or raises
    faults.Fault."""

    def __init__(self, rpcapi, rules):
        self.rpcapi = rpcapi
        self.rules = rules

    def _context(self, req, rule):
        context = req.environ[auth.CONTEXT_KEY]
        self.rules.authorize(context, rule)
        return context

    def index(self, req, version):
        context = self._context(req, policy.SERVICES % 'list')
        wanted = schemas.query(
            req, ('host', 'binary'),
            strict=version >= microversion.STRICT_QUERY)
        # Empty values filter nothing, as in Nova.
        host, binary = wanted['host'] or None, wanted['binary'] or None
        if not all(map(_could_be_name, (host, binary))):
            # No service has such a name: Nova lists nothing, and so do we
            # (the conductor would refuse the filter).
            return 200, {'services': []}
        services = self.rpcapi.service_get_all(context, host=host,
                                               binary=binary)
        return 200, {'services': [view(s, version) for s in services]}

    def update(self, req, version, id):
        context = self._context(req, policy.SERVICES % 'update')
        if version >= microversion.UUID_FOR_ID:
            return self._update_by_uuid(req, context, version, id)
        return self._action(req, context, version, id)

    def _update_by_uuid(self, req, context, version, service_id):
        _check_uuid(service_id)
        body = schemas.body(req, schemas.UPDATE_V253)
        values = {}
        if body.get('status') == 'enabled':
            if body.get('disabled_reason'):
                raise faults.Fault(400, "Specifying 'disabled_reason' with "
                                        "status 'enabled' is invalid.")
            values['disabled'] = False
        elif body.get('status') == 'disabled':
            values['disabled'] = True
            values['disabled_reason'] = body.get('disabled_reason')
        if 'forced_down' in body:
            values['forced_down'] = strutils.bool_from_string(
                body['forced_down'], strict=True)
        if not values:
            raise faults.Fault(400, "No updates were requested. Fields "
                                    "'status' or 'forced_down' should be "
                                    "specified.")
        # Not found: the conductor's "Service <uuid> could not be found.",
        # Nova's words here.
        service = self.rpcapi.service_update_by_uuid(context, service_id,
                                                     values)
        return 200, {'service': view(service, version)}

    def _action(self, req, context, version, action):
        """The URLs before 2.53: PUT /os-services/enable, /disable,
        /disable-log-reason and (2.11) /force-down, naming the service by
        host and binary in the body."""
        forced_down_too = version >= microversion.FORCED_DOWN
        body = schemas.body(req, schemas.UPDATE_V211 if forced_down_too
                            else schemas.UPDATE_LEGACY)
        answer = {'host': body['host'], 'binary': body['binary']}
        if action == 'enable':
            values = {'disabled': False}
            answer['status'] = 'enabled'
        elif action in ('disable', 'disable-log-reason'):
            # As in Nova, "disable" drops a reason given with it.
            values = {'disabled': True, 'disabled_reason': None}
            answer['status'] = 'disabled'
            if action == 'disable-log-reason':
                if 'disabled_reason' not in body:
                    raise faults.Fault(400, 'Missing disabled reason field')
                values['disabled_reason'] = answer['disabled_reason'] = (
                    body['disabled_reason'])
        elif action == 'force-down' and forced_down_too:
            if 'forced_down' not in body:
                raise faults.Fault(400, 'Missing forced_down field')
            values = {'forced_down': strutils.bool_from_string(
                body['forced_down'], strict=True)}
            answer['forced_down'] = values['forced_down']
        else:
            raise faults.Fault(404, 'Unknown action')
        self.rpcapi.service_update(context, body['host'], body['binary'],
                                   values)
        return 200, {'service': answer}

    def delete(self, req, version, id):
        context = self._context(req, policy.SERVICES % 'delete')
        if version >= microversion.UUID_FOR_ID:
            _check_uuid(id)
            key = {'uuid': id}
        elif not _INTEGER.match(id):
            raise faults.Fault(400, 'Invalid input received: id must be an '
                                    'integer')
        elif not (len(id) <= 10 and 0 < int(id) <= validation.MAX_ID):
            raise faults.Fault(404, 'Service %s not found.' % faults.shown(id))
        else:
            key = {'service_id': int(id)}
        try:
            self.rpcapi.service_delete_by_id(context, **key)
        except exception.ServiceNotFound:
            raise faults.Fault(404, 'Service %s not found.' % faults.shown(id))
        return 204, None

    def purge(self, req, version):
        """POST /os-services/purge, sgconductor's own: delete (with
        ``dry_run``, only list) every service down for at least
        ``down_for`` seconds, as sgconductor-manage service purge does."""
        context = self._context(req, policy.PURGE)
        body = schemas.body(req, schemas.PURGE)
        services = self.rpcapi.service_purge(
            context, body['down_for'], body.get('dry_run', False))
        return 200, {'services': [view(s, version) for s in services]}


def _could_be_name(value):
    try:
        validation.check_name(value, 'name', validation.invalid,
                              required=False)
    except exception.Invalid:
        return False
    return True


def _check_uuid(service_id):
    if not uuidutils.is_uuid_like(service_id):
        raise faults.Fault(400, 'Invalid uuid %s' % faults.shown(service_id))
