"""Options of the ``[servicegroup]`` group: how liveness is judged."""

from oslo_config import cfg

GROUP = cfg.OptGroup('servicegroup', title='Service group options')

DRIVERS = ['db']

opts = [
    cfg.StrOpt(
        'driver',
        default='db',
        choices=DRIVERS,
        help='Driver that judges whether a service is up. "db" judges '
             'the conductor-stamped last_seen_up against '
             '[DEFAULT] service_down_time.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
