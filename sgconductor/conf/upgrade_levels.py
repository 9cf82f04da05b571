# SPDX-License-Identifier: Apache-2.0
"""Options of the ``[upgrade_levels]`` group: which conductor RPC version
clients send during a rolling upgrade (see doc/upgrades.rst)."""

from oslo_config import cfg

from sgconductor import version

GROUP = cfg.OptGroup('upgrade_levels', title='Rolling upgrade options')

AUTO = 'auto'


def _conductor_choices():
    choices = [(AUTO, 'the version the oldest running conductor speaks, '
                      'learnt from the conductors and kept up to date')]
    choices += [(rpc_version, 'conductor RPC version %s' % rpc_version)
                for rpc_version in version.conductor_rpc_versions()]
    choices += [(release, 'what conductors of release %s speak (%s)'
                 % (release, rpc_version))
                for release, rpc_version
                in sorted(version.CONDUCTOR_RPC_ALIASES.items())]
    return choices


opts = [
    cfg.StrOpt(
        'conductor',
        choices=_conductor_choices(),
        help='Newest conductor RPC version this service may send. Unset, '
             'it sends this code\'s newest, which conductors older than '
             'this code refuse: set "auto", or pin the release of the '
             'oldest conductor, until every conductor is upgraded. '
             'Messages an older conductor understands are sent to it '
             'either way. With "auto" and no conductor registered yet, the '
             'cap is what the oldest supported conductor speaks, until one '
             'registers. Conductors of release 2026.2 do not register '
             'themselves, so "auto" cannot see them beside newer ones: pin '
             '2026.2 while one runs.'),
    cfg.IntOpt(
        'version_cache_ttl',
        default=60,
        min=0,
        help='Seconds a service keeps an answer of get_min_version or '
             'get_max_version (the "auto" level among them). A service '
             'that listens to the conductors\' announcements '
             '(VersionCache.start) drops an answer as soon as a conductor '
             'writes a change of that binary\'s versions, so this only '
             'bounds (give or take a call\'s duration) how stale an answer '
             'can get when an announcement is lost, or for a service that '
             'does not listen. An answer that '
             'no service of a binary runs is not kept. 0 asks the '
             'conductor every time.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
