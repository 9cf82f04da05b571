"""Options of the ``[conductor]`` group."""

from oslo_config import cfg

GROUP = cfg.OptGroup('conductor', title='Conductor options')

opts = [
    cfg.StrOpt(
        'topic',
        default='sgconductor',
        help='RPC topic the conductor consumes and reporters, the CLI and '
             'API services send to.'),
    cfg.IntOpt(
        'workers',
        default=1,
        min=1,
        help='Number of conductor worker processes to start on this host. '
             'All of them consume the same topic.'),
    cfg.FloatOpt(
        'flush_interval',
        default=1.0,
        min=0.1,
        max=60,
        help='Seconds between two writes of coalesced heartbeats. A report '
             'that only says "alive" is counted in memory and written with '
             'all others in a few statements at this interval; '
             'registrations and version changes are written at once. A '
             'conductor that dies loses at most this much of heartbeats, '
             'and last_seen_up lags by up to this much.'),
    cfg.IntOpt(
        'call_timeout',
        default=10,
        min=1,
        help='Seconds a client (reporter registration, CLI) waits for the '
             'conductor to answer a call before giving up.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
