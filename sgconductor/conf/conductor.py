# SPDX-License-Identifier: Apache-2.0
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
        help='Number of conductor worker processes to start on this host '
             'for the calls of [conductor] topic (registrations, listings, '
             'operator actions), of its versions topic '
             '(get_min_version, get_max_version) and of its registrations '
             'topic (register_service in batches). All of them consume the '
             'same topics.'),
    cfg.IntOpt(
        'intake_workers',
        default=1,
        min=1,
        help='Number of processes to start on this host that take '
             'heartbeats (report_state) off the reports topic, each with '
             'its own heartbeat buffer. One process takes well over 10,000 '
             'heartbeats a second; add more only if its CPU is saturated.'),
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
        'report_prefetch',
        default=1000,
        min=1,
        max=65535,
        help='Heartbeats one conductor worker takes from the broker at a '
             'time. They are handled as one batch and acknowledged with one '
             'frame; a worker that dies leaves at most this many to be '
             'delivered again (to another worker) and counted.'),
    cfg.IntOpt(
        'state_check_interval',
        default=10,
        min=1,
        help='Seconds between two looks for services that went up or down, '
             'by one conductor process per host, to emit service.state '
             'notifications (only with [oslo_messaging_notifications] '
             'driver set). A service that goes down is notified within '
             'service_down_time plus this; each look reads every service '
             'once.'),
    cfg.IntOpt(
        'clock_skew_warning',
        default=60,
        min=1,
        help='Seconds a registering service\'s clock may differ from the '
             'conductor\'s before a warning is logged. Liveness never '
             'depends on it (the conductor stamps every report); the skew '
             'measured at registration is listed as clock_skew.'),
    cfg.IntOpt(
        'dead_after',
        default=86400,
        min=60,
        help='Seconds without a report after which a service counts as '
             'dead: its version no longer counts for get_min_version and '
             'get_max_version, so a node that was switched off and never '
             'deleted does not hold back the RPC version of the whole '
             'deployment ([upgrade_levels] conductor = auto), and '
             'sgconductor-status upgrade check lists it as stale. It '
             'counts again as soon as it reports. Deleted and forced-down '
             'services never count. Measured against the moment up to '
             'which the conductor has read every report, like '
             'service_down_time.'),
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
