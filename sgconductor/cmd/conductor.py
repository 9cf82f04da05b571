"""sgconductor-conductor: the only writer of the services table."""

from sgconductor import exception
from sgconductor import rpc
from sgconductor import service
from sgconductor.cmd import common
from sgconductor.db import migration
from sgconductor.servicegroup import api as servicegroup_api

PROG = 'sgconductor-conductor'


def main(argv=None):
    parser = common.make_parser(
        PROG, 'Run the conductor: consume report_state and operator calls '
              'on [conductor] topic and keep the services table. Stops '
              'cleanly on SIGTERM.')
    common.setup(parser, argv)
    try:
        migration.check_at_head()
        rpc.ensure_broker_reachable()
        servicegroup_api.API().check()
    except (exception.SGConductorException, OSError) as exc:
        common.fail(PROG, exc)
    service.serve()
