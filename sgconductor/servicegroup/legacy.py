# SPDX-License-Identifier: Apache-2.0
"""Nova's old servicegroup drivers, kept working on top of the tooz driver.

``driver = zk`` (with ``[zookeeper] address``) and ``driver = mc`` (with
``[DEFAULT] memcached_servers``) are deprecated aliases: they select the
tooz driver with the equivalent backend URL, and a warning prints the
configuration to use instead.
"""

from oslo_log import log as logging

from sgconductor import exception

LOG = logging.getLogger(__name__)


def _zookeeper_url(conf, service_down_time):
    if not conf.zookeeper.address:
        raise exception.ConfigInvalid(
            option='[zookeeper] address',
            reason='driver = zk needs it (host:port,host:port)')
    return 'zookeeper://%s?timeout=%g' % (
        conf.zookeeper.address, conf.zookeeper.recv_timeout / 1000.0)


def _memcached_url(conf, service_down_time):
    servers = conf.memcached_servers
    if not servers:
        raise exception.ConfigInvalid(
            option='[DEFAULT] memcached_servers',
            reason='driver = mc needs it (host:port)')
    if len(servers) > 1:
        LOG.warning('tooz uses one memcached server; using %s, not %s.',
                    servers[0], ', '.join(servers[1:]))
    # Nova's mc driver let a service's key expire after service_down_time.
    return 'memcached://%s?timeout=%d' % (servers[0], service_down_time)


_URLS = {'zk': _zookeeper_url, 'mc': _memcached_url}


def resolve(conf, service_down_time):
    """(driver name, backend URL) of the configured servicegroup driver."""
    name = conf.servicegroup.driver
    if name not in _URLS:
        return name, conf.servicegroup.backend_url
    url = _URLS[name](conf, service_down_time)
    LOG.warning('[servicegroup] driver = %(old)s is deprecated and will be '
                'removed; configure instead: [servicegroup] driver = tooz '
                'and backend_url = %(url)s', {'old': name, 'url': url})
    return 'tooz', url
