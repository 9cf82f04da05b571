# SPDX-License-Identifier: Apache-2.0
"""sgconductor-demo: the README's first command; see sgconductor.demo."""

import argparse
import sys
import textwrap

from sgconductor import demo
from sgconductor import exception
from sgconductor.cmd import common
from sgconductor.db import migration

PROG = 'sgconductor-demo'

# Paragraphs, filled after the demo's numbers are put in.
DESCRIPTION = (
    'Show what sgconductor does, in this one process and about 10 seconds: '
    'a conductor RPC server, %(count)d services reporting every '
    '%(interval)s s and an API-side loop polling the minimum nova-compute '
    'version, through five steps: all services up; one stops reporting and '
    'turns down after service_down_time (%(down)s s); one compute is '
    'upgraded and the minimum version moves; one is disabled with a '
    'reason; the stopped one is deleted. Each step prints the service list '
    'as "sgconductor-manage service list" shows it. Exits 0 once '
    'everything has stopped, 1 with a one-line error if a step does not '
    'reach its expected state in time.',
    'Without --config-file or --config-dir no server is needed: the '
    "transport is oslo.messaging's in-memory kombu+memory://// and the "
    'database a SQLite file in a temporary directory, migrated, then '
    'removed.',
    'With --config-file or --config-dir, transport_url and [database] '
    'connection come from the configuration (e.g. RabbitMQ and MariaDB). '
    'The database is migrated to the newest schema, as "sgconductor-manage '
    'db sync" does. The conductor still runs in this process, on a topic of '
    'its own, [conductor] topic followed by -demo-<id>, so that a running '
    "conductor never sees the demo's messages (RabbitMQ keeps that topic's "
    "two empty queues afterwards). The demo's services are on hosts "
    'demo-<id>-compute-1 and so on, and are deleted at the end. '
    'report_interval and service_down_time always take the values above.',
)


def _parser():
    numbers = {'count': len(demo.FLEET), 'interval': demo.REPORT_INTERVAL,
               'down': demo.SERVICE_DOWN_TIME}
    description = '\n\n'.join(
        textwrap.fill(paragraph % numbers, 79, break_on_hyphens=False)
        for paragraph in DESCRIPTION)
    parser = common.make_parser(PROG, description)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def main(argv=None):
    args = common.setup(_parser(), argv, quiet=True)
    try:
        demo.run(embedded=not (args.config_file or args.config_dir))
    except exception.SGConductorException as exc:
        common.fail(PROG, exc)
    except migration.DB_ERRORS as exc:
        common.fail(PROG, 'database error: %s' % exception.first_line(exc))
    except OSError as exc:
        common.fail(PROG, exc)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)


if __name__ == '__main__':
    main()
