# SPDX-License-Identifier: Apache-2.0
"""Compute API microversions, negotiated as Nova does.

A request names its version in ``OpenStack-API-Version: compute 2.53``
(or the older ``X-OpenStack-Nova-API-Version: 2.53``); none means the
minimum, ``latest`` the maximum. Every response under /v2.1 says which
version served it.

Versions that changed os-services: 2.11 (``forced_down`` and the
force-down action), 2.53 (service uuids as ids, PUT and DELETE by uuid,
the action URLs gone), 2.75 (unknown query parameters refused). Nova's
later microversions do not touch the resource, so this API accepts them
up to MAX_VERSION and serves them as 2.75.
"""

import re

import microversion_parse

from sgconductor.api import faults

SERVICE_TYPE = 'compute'
HEADER = 'OpenStack-API-Version'
LEGACY_HEADER = 'X-OpenStack-Nova-API-Version'

MIN_VERSION = (2, 1)
# Nova 2024.1's maximum.
MAX_VERSION = (2, 96)

FORCED_DOWN = (2, 11)
UUID_FOR_ID = (2, 53)
STRICT_QUERY = (2, 75)

# Nova's format, with at most 6 digits a number (int() of thousands of
# digits is refused by Python itself).
_FORMAT = re.compile(r'([1-9][0-9]{0,5})\.([1-9][0-9]{0,5}|0)\Z')


def to_string(version):
    return '%d.%d' % version


def from_request(req):
    """The (major, minor) version ``req`` asks for; Fault 400 if the
    header is malformed, 406 if the version is not served."""
    text = microversion_parse.get_version(
        req.headers, SERVICE_TYPE, legacy_headers=[LEGACY_HEADER])
    if text is None:
        return MIN_VERSION
    if text.strip().lower() == 'latest':
        return MAX_VERSION
    match = _FORMAT.match(text.strip())
    if not match:
        raise faults.Fault(400, 'API Version String %s is of invalid '
                                'format. Must be of format '
                                'MajorNum.MinorNum.' % faults.shown(text))
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise faults.Fault(406, 'Version %s is not supported by the API. '
                                'Minimum is %s and maximum is %s.'
                           % (to_string(version), to_string(MIN_VERSION),
                              to_string(MAX_VERSION)))
    return version


def add_headers(resp, version):
    """Say which version served ``resp``, as Nova does."""
    text = to_string(version)
    resp.headers[HEADER] = '%s %s' % (SERVICE_TYPE, text)
    resp.headers[LEGACY_HEADER] = text
    resp.headers['Vary'] = '%s, %s' % (HEADER, LEGACY_HEADER)
