# SPDX-License-Identifier: Apache-2.0
"""Read every option once so a bad value fails at start, not mid-run.

oslo.config converts values lazily, on first access; a typo in a config file
would otherwise surface as a traceback the first time the option is read.
"""

from oslo_config import cfg

from sgconductor import exception


def _groups(conf):
    yield None, conf
    for name in conf.list_all_sections():
        group = getattr(conf, name, None)
        if isinstance(group, cfg.ConfigOpts.GroupAttr):
            yield name, group


def check_all(conf):
    """Raise ConfigInvalid naming the first option whose value is bad."""
    for group_name, group in _groups(conf):
        for opt_name in list(group):
            try:
                getattr(group, opt_name)
            except (cfg.Error, ValueError) as exc:
                where = '[%s] %s' % (group_name or 'DEFAULT', opt_name)
                raise exception.ConfigInvalid(option=where, reason=exc)
