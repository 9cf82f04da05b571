# SPDX-License-Identifier: Apache-2.0
"""Checks of what callers send the conductor, before anything is stored.

A report is a flat dict of primitive values. Anything else (a missing or
unknown field, a wrong type, an over-long string, a negative version) is
refused as a whole with an InvalidReport that names the sender and the
field, so one bad message can never change a row. A report of a service
older than this conductor supports is refused with ServiceTooOld.
"""

import re
import uuid as uuid_lib

from oslo_utils import timeutils

from sgconductor import exception
from sgconductor import version as sg_version

MAX_NAME = 255
_CONTROL = re.compile('[\x00-\x1f\x7f]')
# A lone surrogate: JSON can carry one ("\ud800"), UTF-8 cannot, so no
# database can store it.
_SURROGATE = re.compile('[\ud800-\udfff]')
MAX_VERSION = 2 ** 31 - 1
# The largest integer id (the column is a 32-bit integer everywhere).
MAX_ID = 2 ** 31 - 1
# Binaries one get_min_version / get_max_version call may ask about: a
# deployment runs a handful; each costs a subquery.
MAX_BINARIES = 100
# What str(uuid.UUID(...)) gives; every heartbeat carries one, so it is
# recognised without parsing it.
_CANONICAL_UUID = re.compile(
    r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z')

# field -> required?
REPORT_FIELDS = {
    'host': True,
    'binary': True,
    'topic': False,
    'version': True,
    'availability_zone': False,
    'uuid': False,
}

UPDATE_FIELDS = ('disabled', 'disabled_reason', 'forced_down')


def check_name(value, field, error, required=True):
    """Return ``value`` if it is a usable name, else raise ``error``.

    Control characters would forge log lines (and PostgreSQL refuses
    NUL); a lone surrogate would fail the write of every report written
    with it; surrounding white space would make two spellings of one host.
    """
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise error(field, 'must be a string, not %s' % type(value).__name__)
    if not value or len(value) > MAX_NAME:
        raise error(field, 'must be 1 to %d characters long' % MAX_NAME)
    if _CONTROL.search(value):
        raise error(field, 'must not contain control characters')
    if _SURROGATE.search(value):
        raise error(field, 'must be valid Unicode (no lone surrogates)')
    if value != value.strip():
        raise error(field, 'must not start or end with white space')
    return value


def check_binaries(binaries, error):
    """A non-empty list of binary names."""
    if not isinstance(binaries, list) or not binaries:
        raise error('binaries', 'must be a non-empty list')
    if len(binaries) > MAX_BINARIES:
        raise error('binaries', 'must list at most %d' % MAX_BINARIES)
    for binary in binaries:
        check_name(binary, 'binary', error)
    return binaries


def _sender(report):
    """Who sent ``report``, for its error: never a raw control character
    or lone surrogate, which would forge or break the log line."""
    host = report.get('host')
    if not (isinstance(host, str) and 0 < len(host) <= MAX_NAME):
        return 'an unidentified sender'
    if _CONTROL.search(host) or _SURROGATE.search(host):
        return ascii(host)
    return host


def invalid(field, reason):
    """The error of a call's argument: Invalid, naming it."""
    return exception.Invalid(reason='%s %s' % (field, reason))


def check_non_negative_int(value, field, error, required=True):
    """Return ``value`` if it is an integer from 0 to MAX_VERSION (a
    version, a number of seconds), else raise ``error``."""
    if value is None and not required:
        return None
    # bool is an int subclass; True is not a number.
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(field,
                    'must be an integer, not %s' % type(value).__name__)
    if not 0 <= value <= MAX_VERSION:
        raise error(field, 'must be between 0 and %d' % MAX_VERSION)
    return value


def _check_uuid(value, error):
    """The canonical form of a UUID (stored uuids are canonical)."""
    if value is None or (isinstance(value, str)
                         and _CANONICAL_UUID.match(value)):
        return value
    try:
        return str(uuid_lib.UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise error('uuid', 'must be a UUID')


def check_service_key(host, binary, uuid, service_id):
    """Which live service a service_update or service_delete means: by
    host and binary, or (1.3) by uuid or by integer id, exactly one of
    the three. Returns the column values that find it."""
    given = [name for name, value in (('host and binary', host or binary),
                                      ('uuid', uuid),
                                      ('service_id', service_id))
             if value is not None]
    if len(given) != 1:
        raise invalid('service', 'must be named by host and binary, by '
                                 'uuid or by service_id (exactly one)')
    if uuid is not None:
        return {'uuid': _check_uuid(uuid, invalid)}
    if service_id is not None:
        if isinstance(service_id, bool) or not isinstance(service_id, int):
            raise invalid('service_id', 'must be an integer')
        if not 0 < service_id <= MAX_ID:
            # Beyond the column's range, PostgreSQL would refuse the query.
            raise invalid('service_id', 'must be between 1 and %d' % MAX_ID)
        return {'id': service_id}
    return {'host': check_name(host, 'host', invalid),
            'binary': check_name(binary, 'binary', invalid)}


# An ISO 8601 time is about 32 characters; anything longer is not one.
MAX_TIME = 64


def check_registration(report):
    """Validate a register_service payload: a report, and (1.5) the
    sender's clock, ``sent_at``.

    Returns ``(values, uuid, sent_at)``, sent_at a naive UTC datetime or
    None if not sent.
    """
    report = dict(report)
    sent_at = report.pop('sent_at', None)
    values, uuid = check_report(report)
    if sent_at is None:
        return values, uuid, None
    try:
        if not isinstance(sent_at, str) or len(sent_at) > MAX_TIME:
            raise ValueError(sent_at)
        moment = timeutils.normalize_time(timeutils.parse_isotime(sent_at))
    except (ValueError, OverflowError):  # Overflow: year 1 at UTC+1
        raise exception.InvalidReport(
            sender=values['host'], field='sent_at',
            reason='must be an ISO 8601 time') from None
    return values, uuid, moment


def check_report(report):
    """Validate a report_state/register_service payload.

    Returns ``(values, uuid)``: the columns to store and the uuid the
    sender was given at registration (or None).
    """
    sender = _sender(report)

    def error(field, reason):
        return exception.InvalidReport(sender=sender, field=field,
                                       reason=reason)

    unknown = sorted(set(report) - set(REPORT_FIELDS))
    if unknown:
        raise error(unknown[0], 'is not a known field')
    missing = [f for f, required in REPORT_FIELDS.items()
               if required and f not in report]
    if missing:
        raise error(missing[0], 'is required')
    values = {
        'host': check_name(report['host'], 'host', error),
        'binary': check_name(report['binary'], 'binary', error),
        'topic': check_name(report.get('topic'), 'topic', error,
                            required=False),
        'availability_zone': check_name(report.get('availability_zone'),
                                        'availability_zone', error,
                                        required=False),
        'version': check_non_negative_int(report['version'], 'version',
                                          error),
    }
    if values['version'] < sg_version.OLDEST_SUPPORTED_SERVICE_VERSION:
        raise exception.ServiceTooOld(
            sender=sender, binary=values['binary'],
            version=values['version'],
            oldest=sg_version.OLDEST_SUPPORTED_SERVICE_VERSION)
    return values, _check_uuid(report.get('uuid'), error)


def _update_error(field, reason):
    return exception.InvalidUpdate(field=field, reason=reason)


def check_update(values):
    """Validate a service_update change; return the columns to write.

    Enabling a service clears its disabled_reason, as Nova does.
    """
    if not isinstance(values, dict) or not values:
        raise _update_error('values', 'must be a non-empty dict')
    unknown = sorted(set(values) - set(UPDATE_FIELDS))
    if unknown:
        raise _update_error(unknown[0], 'is not a field that can be changed')
    for field in ('disabled', 'forced_down'):
        if field in values and not isinstance(values[field], bool):
            raise _update_error(field, 'must be true or false')
    changes = dict(values)
    if changes.get('disabled_reason') is not None:
        if changes.get('disabled') is not True:
            raise _update_error('disabled_reason',
                                'can only be given when disabling')
        check_name(changes['disabled_reason'], 'disabled_reason',
                   _update_error)
    if changes.get('disabled') is False:
        changes['disabled_reason'] = None
    return changes
