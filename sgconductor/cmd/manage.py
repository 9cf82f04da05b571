# SPDX-License-Identifier: Apache-2.0
"""sgconductor-manage: operator commands.

``db`` commands manage the schema; ``service`` commands talk to the
conductor over RPC and never open the database. Exit status: 0 success,
2 service not found (or a usage error), 1 anything else, with one line on
stderr.
"""

import json
import sys

from sgconductor import exception
from sgconductor import formatting
from sgconductor import rpc
from sgconductor.cmd import common
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.db import migration

PROG = 'sgconductor-manage'


def _versions(method, label):
    def command(rpcapi, ctxt, args):
        versions = method(rpcapi, ctxt, args.binary)
        if args.format == 'json':
            print(json.dumps(versions, indent=2, sort_keys=True))
        else:
            formatting.print_table(['Binary', label],
                                   [[b, versions[b]] for b in args.binary])
    return command


def db_sync(args):
    migration.upgrade()
    print('Database is at revision %s.' % migration.version())


def db_version(args):
    print(migration.version() or 'none')


def service_list(rpcapi, ctxt, args):
    formatting.print_services(
        rpcapi.service_get_all(ctxt, host=args.host, binary=args.binary,
                               down_for=args.down_for), args.format)


def service_purge(rpcapi, ctxt, args):
    services = rpcapi.service_purge(ctxt, args.down_for, args.dry_run)
    formatting.print_services(services, args.format)
    if args.format == 'table':
        print('%s %d service(s).' % ('Would delete' if args.dry_run
                                     else 'Deleted', len(services)))


def _update(values, verb):
    def command(rpcapi, ctxt, args):
        changes = dict(values)
        if getattr(args, 'reason', None) is not None:
            changes['disabled_reason'] = args.reason
        service = rpcapi.service_update(ctxt, args.host, args.binary, changes)
        print('Service %s on %s %s.' % (service['binary'], service['host'],
                                        verb))
    return command


def service_delete(rpcapi, ctxt, args):
    rpcapi.service_delete(ctxt, args.host, args.binary)
    print('Service %s on %s deleted.' % (args.binary, args.host))


SERVICE_COMMANDS = {
    'disable': (_update({'disabled': True}, 'disabled'),
                'Disable a service (the scheduler stops using it).'),
    'enable': (_update({'disabled': False}, 'enabled'),
               'Enable a service; clears its disabled reason.'),
    'force-down': (_update({'forced_down': True}, 'forced down'),
                   'Mark a service down now, whatever it reports (for '
                   'fencing and evacuation).'),
    'force-up': (_update({'forced_down': False}, 'no longer forced down'),
                 'Let reports decide the state of a service again.'),
    'delete': (service_delete, 'Soft-delete a service; reports from a '
                               'still-running one are ignored.'),
}


def _add_format(parser):
    parser.add_argument('--format', choices=['table', 'json'],
                        default='table', help='Output format.')


def _parser():
    parser = common.make_parser(PROG, 'Manage the sgconductor database and '
                                      'the services it tracks.')
    groups = parser.add_subparsers(dest='group', metavar='{db,service}',
                                   required=True)
    db = groups.add_parser('db', help='Database schema commands.')
    db_commands = db.add_subparsers(dest='command', required=True)
    db_commands.add_parser(
        'sync', help='Migrate the schema to the newest revision.'
    ).set_defaults(db_func=db_sync)
    db_commands.add_parser(
        'version', help='Print the schema revision.'
    ).set_defaults(db_func=db_version)

    service = groups.add_parser('service',
                                help='Service commands (through the '
                                     'conductor).')
    commands = service.add_subparsers(dest='command', required=True)
    listing = commands.add_parser('list', help='List services and their '
                                               'state.')
    listing.add_argument('--host', help='Only services on this host.')
    listing.add_argument('--binary', help='Only services of this binary.')
    listing.add_argument('--down-for', type=common.duration,
                         metavar='DURATION',
                         help='Only services that are down and sent no '
                              'report for at least DURATION (seconds, or '
                              'e.g. 15m, 2h, 7d): the ones to look at, or '
                              'delete if they are gone for good.')
    _add_format(listing)
    listing.set_defaults(func=service_list)
    purge = commands.add_parser(
        'purge', help='Delete every service down for at least DURATION.',
        description='Soft-delete every service that is down and sent no '
                    'report for at least DURATION, as "delete" does, and '
                    'print them; one that reports meanwhile stays. '
                    'DURATION must be at least [DEFAULT] '
                    'service_down_time.')
    purge.add_argument('--down-for', type=common.duration, required=True,
                       metavar='DURATION',
                       help='Seconds, or e.g. 15m, 2h, 7d.')
    purge.add_argument('--dry-run', action='store_true',
                       help='Only print what would be deleted.')
    _add_format(purge)
    purge.set_defaults(func=service_purge)
    for name, (func, help_text) in SERVICE_COMMANDS.items():
        command = commands.add_parser(name, help=help_text,
                                      description=help_text)
        command.add_argument('host', help='Host of the service.')
        command.add_argument('binary', help='Binary of the service.')
        if name == 'disable':
            command.add_argument('--reason', help='Why it is disabled '
                                                  '(up to 255 characters).')
        command.set_defaults(func=func)
    for name, method, label in (
            ('min-version', conductor_rpcapi.ConductorAPI.get_min_versions,
             'Min Version'),
            ('max-version', conductor_rpcapi.ConductorAPI.get_max_versions,
             'Max Version')):
        command = commands.add_parser(
            name, help='Print the %s of running services per binary '
                       '(deleted and forced-down ones excluded).'
                       % label.lower())
        command.add_argument('binary', nargs='+', help='Binary name(s).')
        _add_format(command)
        command.set_defaults(func=_versions(method, label))
    return parser


def main(argv=None):
    args = common.setup(_parser(), argv, quiet=True)
    try:
        if args.group == 'db':
            args.db_func(args)
        else:
            args.func(conductor_rpcapi.ConductorAPI(),
                      conductor_rpcapi.admin_context(), args)
    except exception.ServiceNotFound as exc:
        common.fail(PROG, exc, code=2)
    except exception.SGConductorException as exc:
        common.fail(PROG, exc)
    except migration.DB_ERRORS as exc:
        common.fail(PROG, 'database error: %s'
                    % exception.first_line(exc))
    finally:
        rpc.cleanup()
    sys.exit(0)
