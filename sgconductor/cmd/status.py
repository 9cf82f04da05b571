# SPDX-License-Identifier: Apache-2.0
"""sgconductor-status upgrade check: is this deployment ready for the code
installed here?

Run it on a conductor host, before and after upgrading. It reads the
database (never writes it) so that it answers even while no conductor
runs. Exit status as oslo.upgradecheck defines it: 0 every check passed,
1 a warning, 2 a failure, 255 an error: a check crashed, or (with one
line on stderr) the configuration is bad. A command line that does not
parse exits 2 with the usage, as every command does.
"""

import functools
import sys

from oslo_config import cfg
from oslo_upgradecheck import upgradecheck
from oslo_utils import timeutils

from sgconductor import exception
from sgconductor import version
from sgconductor.cmd import common
from sgconductor.conductor import manager
from sgconductor.conductor import progress
from sgconductor.conf import validate
from sgconductor.db import api as db_api
from sgconductor.db import migration

PROG = 'sgconductor-status'
CONF = common.CONF
# Services named in one check's details; the rest are counted.
MAX_LISTED = 10
# oslo.upgradecheck's exit status for an error (not a check's result).
ERROR = 255


def _listed(services, describe):
    names = [describe(service) for service in services[:MAX_LISTED]]
    if len(services) > MAX_LISTED:
        names.append('and %d more' % (len(services) - MAX_LISTED))
    return '; '.join(names)


def _dead(service, dead_before):
    return not service.last_seen_up or service.last_seen_up < dead_before


def _failure(exc):
    return upgradecheck.Result(upgradecheck.Code.FAILURE,
                               exception.first_line(exc))


class Checks(upgradecheck.UpgradeCommands):
    """The checks of ``sgconductor-status upgrade check``."""

    @property
    def dead_after(self):
        return manager.effective_dead_after()

    @functools.cached_property
    def _services(self):
        """Live rows, and the moment before which a report is dead, read
        once for every check that needs them. Raises
        SGConductorException (not kept: the next check reads again):
        DatabaseNotReady, saying what to run, for a schema not at this
        code's head, whose tables the reads below would not find."""
        migration.check_at_head()
        dbapi = db_api.get_instance()
        judged_as_of = dbapi.reports_judged_as_of(timeutils.utcnow(),
                                                  progress.dropout())
        return (dbapi.service_get_all(),
                manager.dead_before(judged_as_of, self.dead_after))

    def _check_schema(self):
        try:
            migration.check_at_head()
        except exception.SGConductorException as exc:
            return _failure(exc)
        return upgradecheck.Result(upgradecheck.Code.SUCCESS)

    def _check_services(self, pick, code, explain):
        """``code`` with ``explain(found)`` if ``pick(service,
        dead_before)`` finds any live service, else success."""
        try:
            services, dead_before = self._services
        except exception.SGConductorException as exc:
            return _failure(exc)
        found = [s for s in services if pick(s, dead_before)]
        if not found:
            return upgradecheck.Result(upgradecheck.Code.SUCCESS)
        return upgradecheck.Result(code, explain(found))

    def _check_service_versions(self):
        """No service that still reports is older than this code serves."""
        oldest = version.OLDEST_SUPPORTED_SERVICE_VERSION
        return self._check_services(
            lambda s, dead_before: (s.version < oldest
                                    and not _dead(s, dead_before)),
            upgradecheck.Code.FAILURE,
            lambda too_old: (
                '%d running service(s) older than service version %d, the '
                'oldest this code serves: %s. Upgrade them to the previous '
                'release first; the conductor of this release refuses them.'
                % (len(too_old), oldest, _listed(
                    too_old, lambda s: '%s on %s (version %d)'
                    % (s.binary, s.host, s.version)))))

    def _check_stale_services(self):
        """Services silent for [conductor] dead_after, never deleted."""
        dead_after = self.dead_after
        return self._check_services(
            _dead, upgradecheck.Code.WARNING,
            lambda stale: (
                '%d service(s) sent no report for over %d s ([conductor] '
                'dead_after); they no longer count for the minimum '
                'version. If they are gone for good, delete them: %s. '
                '"sgconductor-manage service list --down-for %ds" lists '
                'them.' % (len(stale), dead_after, _listed(
                    stale, lambda s: 'sgconductor-manage service delete '
                    '%s %s' % (s.host, s.binary)), dead_after)))

    _upgrade_checks = (
        ('Database schema', _check_schema),
        ('Service versions', _check_service_versions),
        ('Stale services', _check_stale_services),
    )


def main(argv=None):
    checks = Checks()
    upgradecheck.register_cli_options(CONF, checks)
    try:
        CONF(sys.argv[1:] if argv is None else argv, project='sgconductor',
             version=version.version_string())
        validate.check_all(CONF)
    except (cfg.Error, exception.ConfigInvalid) as exc:
        common.fail(PROG, exc, code=ERROR)
    common.setup_logging(quiet=True)
    # Where UpgradeCommands.check() reads --json from; oslo.upgradecheck's
    # own main() sets it, but that main prints a traceback for a bad
    # configuration value instead of a line.
    upgradecheck.CONF = CONF
    sys.exit(upgradecheck.run(CONF))
