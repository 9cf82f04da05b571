# SPDX-License-Identifier: Apache-2.0
"""Request bodies and query strings of os-services, checked as Nova
checks them (JSON Schema, the same messages), before anything is sent to
the conductor."""

import json

import jsonschema

from sgconductor.api import faults
from sgconductor.conductor import validation

_NAME = {'type': 'string', 'minLength': 1,
         'maxLength': validation.MAX_NAME}

# Nova's parameter_types.boolean.
_BOOLEAN = {'type': ['boolean', 'string'], 'enum': [
    True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes',
    False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No',
    'no']}

# PUT /os-services/{action}, 2.1 - 2.10.
UPDATE_LEGACY = {
    'type': 'object',
    'properties': {'host': _NAME, 'binary': _NAME,
                   'disabled_reason': _NAME},
    'required': ['host', 'binary'],
    'additionalProperties': False,
}

# PUT /os-services/{action}, 2.11 - 2.52: force-down too.
UPDATE_V211 = dict(UPDATE_LEGACY, properties=dict(
    UPDATE_LEGACY['properties'], forced_down=_BOOLEAN))

# PUT /os-services/{service_id}, 2.53 and later.
UPDATE_V253 = {
    'type': 'object',
    'properties': {'status': {'type': 'string',
                              'enum': ['enabled', 'disabled']},
                   'disabled_reason': _NAME,
                   'forced_down': _BOOLEAN},
    'additionalProperties': False,
}

# POST /os-services/purge (sgconductor's own).
PURGE = {
    'type': 'object',
    'properties': {'down_for': {'type': 'integer', 'minimum': 0,
                                'maximum': validation.MAX_VERSION},
                   'dry_run': {'type': 'boolean'}},
    'required': ['down_for'],
    'additionalProperties': False,
}

JSON_TYPES = ('application/json', 'application/vnd.openstack.compute+json')


def _message(error):
    if not error.path:
        return error.message
    return 'Invalid input for field/attribute %s. Value: %s. %s' % (
        '/'.join(str(part) for part in error.path), error.instance,
        error.message)


def validate(schema, instance):
    """Fault 400 with Nova's message unless ``instance`` fits."""
    try:
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft4Validator(schema).iter_errors(instance))
        message = error and _message(error)
    except RecursionError:
        # Nested deeper than the validator (or repr) can follow, though
        # not deeper than the JSON parser could.
        raise faults.Fault(400, 'Malformed request body')
    if error is not None:
        raise faults.Fault(400, message)
    return instance


def body(req, schema):
    """The request's JSON body, checked against ``schema``."""
    if req.content_type and req.content_type not in JSON_TYPES:
        raise faults.Fault(415, 'Unsupported Content-Type')
    try:
        raw = req.body
    except OSError:
        # The server's read timed out, or the client went away (webob's
        # DisconnectionError), before Content-Length bytes came.
        raise faults.Fault(400, 'The request body is shorter than its '
                                'Content-Length.')
    if not raw:
        raise faults.Fault(400, 'The request body must be a JSON object.')
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise faults.Fault(400, 'Malformed request body')
    return validate(schema, document)


def query(req, known, strict):
    """The last value of each ``known`` query parameter (None if absent);
    with ``strict`` (2.75), Fault 400 for any other parameter."""
    try:
        params = req.GET
        if strict:
            unknown = sorted(set(params) - set(known))
            if unknown:
                raise faults.Fault(
                    400, 'Additional properties are not allowed (%s %s '
                         'unexpected)' % (', '.join(map(repr, unknown)),
                                          'was' if len(unknown) == 1
                                          else 'were'))
        return {name: params.get(name) for name in known}
    except UnicodeDecodeError:
        raise faults.Fault(400, 'The query string is not valid UTF-8.')
