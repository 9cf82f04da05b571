"""Options of the ``[servicegroup]`` group: how liveness is judged."""

from oslo_config import cfg

GROUP = cfg.OptGroup('servicegroup', title='Service group options')

DRIVERS = ['db', 'tooz']

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
             'Reporters and the conductor must use the same driver.'),
    cfg.StrOpt(
        'backend_url',
        secret=True,
        help='tooz backend for the "tooz" driver, one with group '
             'membership: zookeeper://, redis://, memcached://, '
             'etcd3+http:// or file:// (tests). Always give a timeout, in '
             'seconds, after which a silent member is dropped, e.g. '
             'zookeeper://127.0.0.1:2181?timeout=2 (ZooKeeper only grants '
             'session timeouts from 2 to 20 of its tickTime).'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
