# SPDX-License-Identifier: Apache-2.0
"""sgconductor-compute: a reference agent that reports one or many services.

It is what a compute node runs (or embeds, through sgconductor.reporter),
and with --fleet N it simulates N services from one process for demos,
tests and load.
"""

import os
import signal
import threading

from sgconductor import exception
from sgconductor import reporter as sg_reporter
from sgconductor import rpc
from sgconductor import version
from sgconductor.cmd import common
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.conductor import validation
from sgconductor.servicegroup import api as servicegroup_api

PROG = 'sgconductor-compute'


def _parser():
    parser = common.make_parser(
        PROG, 'Register services with the conductor and cast report_state '
              'every [DEFAULT] report_interval seconds until SIGTERM, then '
              'send a last report.')
    parser.add_argument('--host',
                        help='Host name to report (default: [DEFAULT] host). '
                             'With --fleet, the prefix of the host names.')
    parser.add_argument('--binary', default='nova-compute',
                        help='Binary name to report (default: %(default)s).')
    parser.add_argument('--topic',
                        help='Topic to report (default: the binary name).')
    parser.add_argument('--zone',
                        help='Availability zone to report (default: '
                             '[DEFAULT] default_availability_zone).')
    parser.add_argument('--service-version', type=common.int_at_least(0),
                        default=version.SERVICE_VERSION,
                        help='Service version to report (default: this '
                             'code\'s own, %(default)s).')
    parser.add_argument('--fleet', type=common.int_at_least(1), default=1,
                        metavar='N',
                        help='Simulate N services on hosts HOST-00001 .. '
                             'HOST-N from this one process.')
    return parser


def fleet_hosts(prefix, size):
    if size == 1:
        return [prefix]
    return ['%s-%05d' % (prefix, i) for i in range(1, size + 1)]


def _reporters(args, conf, servicegroup):
    """One Reporter per simulated host; raises SGConductorException."""
    rpcapi = conductor_rpcapi.ConductorAPI()
    reporters = []
    for host in fleet_hosts(args.host or conf.host, args.fleet):
        reporter = sg_reporter.Reporter(
            rpcapi, host, args.binary, topic=args.topic or args.binary,
            service_version=args.service_version,
            availability_zone=args.zone or conf.default_availability_zone,
            membership=servicegroup.join(args.binary, host))
        # What the conductor would refuse, refused here in one line.
        validation.check_report(reporter.report)
        reporters.append(reporter)
    return reporters


def main(argv=None, servicegroup_factory=servicegroup_api.API):
    """``servicegroup_factory()``, called once the configuration is loaded,
    gives what each reporter joins with: ``.join(binary, host)``."""
    args = common.setup(_parser(), argv)
    conf = common.CONF
    try:
        reporters = _reporters(args, conf, servicegroup_factory())
    except exception.SGConductorException as exc:
        common.fail(PROG, exc)
    stopping = threading.Event()
    refusals = []

    def on_refused(exc):
        refusals.append(exc)
        stopping.set()

    loop = sg_reporter.ReportLoop(reporters, conf.report_interval,
                                  on_refused=on_refused)

    def on_signal(signum, frame):
        if stopping.is_set():
            os._exit(128 + signum)  # a second signal: stop waiting
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    loop.start()
    stopping.wait()
    if refusals:
        # A service older than the conductors support (ServiceTooOld), or
        # one they refuse for another reason, does not start.
        loop.stop(final_report=False)
        rpc.cleanup()
        common.fail(PROG, 'the conductor refused to register: %s'
                    % exception.first_line(refusals[0]))
    if not loop.stop(timeout=conf.conductor.call_timeout + 1):
        os._exit(1)  # a blocked broker connection would hang the exit
    rpc.cleanup()
