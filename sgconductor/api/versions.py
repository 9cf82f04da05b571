# SPDX-License-Identifier: Apache-2.0
"""The version documents: ``/`` lists the API versions, ``/v2.1/``
describes the one served. Both are public, as in Nova: clients read them
to negotiate a microversion before they authenticate."""

from sgconductor.api import microversion

# The one API version served, and its path.
PREFIX = 'v2.1'

# When v2.1 came out, as Nova's document says.
UPDATED = '2013-07-23T11:33:21Z'


def _v21(base_url):
    return {
        'id': PREFIX,
        'status': 'CURRENT',
        'version': microversion.to_string(microversion.MAX_VERSION),
        'min_version': microversion.to_string(microversion.MIN_VERSION),
        'updated': UPDATED,
        'links': [{'rel': 'self', 'href': '%s/%s/' % (base_url, PREFIX)}],
    }


def root(base_url):
    return {'versions': [_v21(base_url)]}


def v21(base_url):
    document = _v21(base_url)
    document['media-types'] = [{
        'base': 'application/json',
        'type': 'application/vnd.openstack.compute+json;version=2.1'}]
    return {'version': document}
