# SPDX-License-Identifier: Apache-2.0
"""What every sgconductor command shares: arguments, config, logging, errors.

Commands parse their own arguments with argparse and hand only the config
file options to oslo.config. Every failure a user can cause ends as one
line on stderr and a non-zero exit, never a traceback.
"""

import argparse
import logging as std_logging
import sys

from oslo_config import cfg
from oslo_log import log as logging

from sgconductor import conf as sg_conf
from sgconductor import exception
from sgconductor import rpc
from sgconductor import version
from sgconductor.conf import validate

CONF = sg_conf.CONF
LOG = logging.getLogger(__name__)

_logging_set_up = False


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error instead of usage plus error."""

    def error(self, message):
        self.exit(2, '%s: error: %s (see --help)\n' % (self.prog, message))


def int_at_least(minimum):
    """An argparse type: an integer no lower than ``minimum``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError('%r is not an integer' % text)
        if value < minimum:
            raise argparse.ArgumentTypeError('%r must be at least %d'
                                             % (text, minimum))
        return value
    return parse


# Seconds per unit of a duration argument.
DURATION_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}


def duration(text):
    """An argparse type: seconds, given as 90, 90s, 15m, 2h or 7d."""
    number, unit = text, 's'
    if text[-1:] in DURATION_UNITS:
        number, unit = text[:-1], text[-1]
    if not number.isdigit():
        raise argparse.ArgumentTypeError(
            '%r is not a duration (seconds, or a number followed by s, m, '
            'h or d, e.g. 90, 15m, 2h, 7d)' % text)
    return int(number) * DURATION_UNITS[unit]


def make_parser(prog, description):
    parser = ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        '--config-file', action='append', default=[], metavar='PATH',
        help='Configuration file to read; may be repeated, later files '
             'override earlier ones. Default: sgconductor.conf in '
             '~/.sgconductor/, ~/, /etc/sgconductor/ or /etc/.')
    parser.add_argument(
        '--config-dir', action='append', default=[], metavar='DIR',
        help='Directory of *.conf files read after --config-file.')
    parser.add_argument('--debug', action='store_true',
                        help='Log at debug level.')
    parser.add_argument('--version', action='version',
                        version=version.version_string())
    return parser


def fail(prog, error, code=1):
    """Log and print one line about ``error``, then exit with ``code``."""
    message = exception.first_line(error)
    # Before logging is set up (a bad configuration), the record would
    # only be printed to stderr as well: the line below says it once.
    if _logging_set_up:
        LOG.error('%s', message)
    sys.stderr.write('%s: error: %s\n' % (prog, message))
    sys.exit(code)


def setup(parser, argv=None, quiet=False):
    """Parse arguments, load and check config, set up logging.

    ``quiet`` (for short-lived CLI commands) keeps library log lines off
    the terminal unless --debug or a log file is configured.
    """
    args = parser.parse_args(argv)
    try:
        load_config(args.config_file, args.config_dir)
    except (cfg.Error, exception.ConfigInvalid) as exc:
        fail(parser.prog, exc)
    if args.debug:
        CONF.set_override('debug', True)
    setup_logging(quiet)
    return args


def load_config(config_files, config_dirs):
    """Load the configuration files (the default ones if none) and check
    every option; raises cfg.Error or ConfigInvalid."""
    conf_args = []
    for path in config_files:
        conf_args += ['--config-file', path]
    for path in config_dirs:
        conf_args += ['--config-dir', path]
    CONF(conf_args, project='sgconductor', version=version.version_string())
    validate.check_all(CONF)
    rpc.check_transport_url()


def setup_logging(quiet=False):
    """oslo.log from the loaded configuration. ``quiet`` (for short-lived
    CLI commands) keeps library log lines off the terminal unless debug
    or a log file is configured."""
    global _logging_set_up
    logging.setup(CONF, 'sgconductor')
    _logging_set_up = True
    if quiet and not CONF.debug and not CONF.log_file:
        for handler in std_logging.getLogger().handlers:
            handler.setLevel(std_logging.CRITICAL)
