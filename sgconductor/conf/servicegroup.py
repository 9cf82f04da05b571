# SPDX-License-Identifier: Apache-2.0
"""Options of the ``[servicegroup]`` group: how liveness is judged."""

from oslo_config import cfg

GROUP = cfg.OptGroup('servicegroup', title='Service group options')

DRIVERS = ['db', 'tooz', 'zk', 'mc']

opts = [
    cfg.StrOpt(
        'driver',
        default='db',
        choices=DRIVERS,
        help='Driver that judges whether a service is up. "db" judges '
             'the conductor-stamped last_seen_up against '
             '[DEFAULT] service_down_time. "tooz" also requires the '
             'service to be a member of its group in backend_url, which '
             'notices a dead service within the backend\'s timeout. '
             'Reporters and the conductor must use the same driver. "zk" '
             'and "mc" are deprecated aliases of "tooz" for Nova\'s old '
             'ZooKeeper and memcached drivers (see [zookeeper] address and '
             '[DEFAULT] memcached_servers).'),
    cfg.StrOpt(
        'backend_url',
        secret=True,
        help='tooz backend for the "tooz" driver, one with group '
             'membership: zookeeper://, redis://, memcached://, '
             'etcd3+http:// or file:// (tests). Always give a timeout, in '
             'seconds, after which a silent member is dropped, e.g. '
             'zookeeper://127.0.0.1:2181?timeout=2 (ZooKeeper only grants '
             'session timeouts from 2 to 20 of its tickTime).'),
    cfg.StrOpt(
        'group_prefix',
        help='What the "tooz" driver\'s group and member ids start with. '
             'By default the deployment\'s own coordinates on the broker, '
             '"<control_exchange>.<[conductor] topic>.<virtual host>." '
             '(each URL-quoted), so that deployments sharing one backend '
             'never see or remove each other\'s services. Every process '
             'of a deployment must use the same value. Set it to "" for '
             'the bare binary names of releases before this option (and '
             'Nova\'s), until every reporter runs this release.'),
]


ZOOKEEPER_GROUP = cfg.OptGroup(
    'zookeeper', title='Deprecated: ZooKeeper servicegroup driver "zk"')

zookeeper_opts = [
    cfg.StrOpt(
        'address',
        deprecated_for_removal=True,
        deprecated_reason='Use [servicegroup] driver = tooz and '
                          'backend_url = zookeeper://ADDRESS?timeout=2.',
        help='host:port[,host:port...] of ZooKeeper, for driver = zk.'),
    cfg.IntOpt(
        'recv_timeout',
        default=4000,
        min=1,
        deprecated_for_removal=True,
        deprecated_reason='Use ?timeout= (seconds) in [servicegroup] '
                          'backend_url.',
        help='ZooKeeper session timeout in milliseconds, for driver = zk.'),
]

memcached_opts = [
    cfg.ListOpt(
        'memcached_servers',
        deprecated_for_removal=True,
        deprecated_reason='Use [servicegroup] driver = tooz and '
                          'backend_url = memcached://HOST:PORT?timeout=2.',
        help='host:port of memcached, for [servicegroup] driver = mc (tooz '
             'uses the first one).'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)
    conf.register_group(ZOOKEEPER_GROUP)
    conf.register_opts(zookeeper_opts, group=ZOOKEEPER_GROUP)
    conf.register_opts(memcached_opts)


def list_opts():
    return {GROUP: opts, ZOOKEEPER_GROUP: zookeeper_opts,
            'DEFAULT': memcached_opts}
