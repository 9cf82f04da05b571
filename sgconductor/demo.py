# SPDX-License-Identifier: Apache-2.0
"""The sgconductor-demo scenario: a small deployment's life in one process.

Nothing is mocked: a conductor RPC server, a few reporters (what compute
nodes embed) and an API-side loop asking for the minimum nova-compute
version all talk through oslo.messaging, and the conductor keeps what they
say in a migrated database. Without a config file no server is needed:
kombu's in-memory transport (it works inside one process only) and SQLite
in a temporary directory stand in for RabbitMQ and MariaDB.

Steps wait for the state they expect by polling, up to a deadline, instead
of sleeping: a loaded machine only makes the demo slower. A missed
deadline raises StepTimeout.
"""

import os
import re
import shutil
import tempfile
import threading
import time
import uuid

from oslo_config import cfg
from oslo_log import log as logging

from sgconductor import exception
from sgconductor import formatting
from sgconductor import reporter as sg_reporter
from sgconductor import rpc
from sgconductor import service
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.db import migration
from sgconductor.db.sqlalchemy import api as sa_api
from sgconductor.servicegroup import api as servicegroup_api

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

EMBEDDED_TRANSPORT_URL = 'kombu+memory:////'
REPORT_INTERVAL = 1
SERVICE_DOWN_TIME = 3
POLL_INTERVAL = 0.1
# How long a step may take beyond its own timings before the demo gives up.
SLACK = 15

OLD_VERSION = 1
NEW_VERSION = 2
# (host, binary, service version): one compute still runs old code.
FLEET = (('compute-1', 'nova-compute', OLD_VERSION),
         ('compute-2', 'nova-compute', NEW_VERSION),
         ('compute-3', 'nova-compute', NEW_VERSION),
         ('compute-4', 'nova-compute', NEW_VERSION),
         ('scheduler-1', 'nova-scheduler', NEW_VERSION))
COMPUTE = 'nova-compute'
UPGRADED, DISABLED, STOPPED = 'compute-1', 'compute-2', 'compute-4'
DISABLED_REASON = 'disk replacement'

_OUTPUT_LOCK = threading.Lock()


class StepTimeout(exception.SGConductorException):
    msg_fmt = ('gave up after %(timeout)s s waiting for %(what)s (rerun '
               'with --debug to see why)')


def say(text=''):
    """Print a line; the API-side thread prints too."""
    with _OUTPUT_LOCK:
        print(text, flush=True)


def mask_passwords(url):
    """``url`` without the passwords it may carry, for printing."""
    return re.sub(r'(://|,)([^:/@,]*):[^@/,]*@', r'\1\2:***@', url)


def poll(what, predicate, timeout=SLACK):
    """Return the first true value of ``predicate()``.

    Raises StepTimeout naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise StepTimeout(what=what, timeout=timeout)
        time.sleep(POLL_INTERVAL)


def field(services, host, key):
    """``key`` of the service on ``host`` in a listing; None if absent."""
    return next((s[key] for s in services if s['host'] == host), None)


class MinVersionWatcher:
    """The API side of a cloud, polling the lowest nova-compute version.

    During a rolling upgrade Nova's API only asks of computes what the
    oldest of them understands, and learns that from get_min_version;
    here it asks every report_interval and prints every change.
    """

    def __init__(self, rpcapi, interval):
        self.rpcapi = rpcapi
        self.interval = interval
        self.value = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='sgconductor-demo-api')
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _run(self):
        ctxt = conductor_rpcapi.admin_context()
        while True:
            self._poll(ctxt)
            if self._stop.wait(self.interval):
                return

    def _poll(self, ctxt):
        try:
            value = self.rpcapi.get_min_version(ctxt, COMPUTE)
        except exception.SGConductorException as exc:
            LOG.warning('API side: get_min_version failed: %s', exc)
            return
        if value == self.value:
            return
        change = ('is %s' % value if self.value is None
                  else 'changed: %s -> %s' % (self.value, value))
        say('  [api] minimum %s version %s' % (COMPUTE, change))
        LOG.info('Minimum %s version %s', COMPUTE, change)
        self.value = value

    def wait_for(self, value):
        poll('the API side to see minimum %s version %s' % (COMPUTE, value),
             lambda: self.value == value, self.interval + SLACK)


class Deployment:
    """What the scenario started, so that stop() can undo all of it."""

    def __init__(self, host_prefix):
        self.host_prefix = host_prefix
        self.ctxt = conductor_rpcapi.admin_context()
        self.started = time.monotonic()
        self.server = self.rpcapi = self.watcher = None
        self.servicegroup = None
        self.loops = {}

    def host(self, name):
        return self.host_prefix + name

    def start_conductor(self):
        """The conductor's RPC server, in this process (no cotyledon)."""
        rpc.ensure_broker_reachable()
        self.servicegroup = servicegroup_api.API()
        self.servicegroup.check()
        self.server = service.Conductor()
        self.server.start()
        self.rpcapi = conductor_rpcapi.ConductorAPI()

    def start_reporter(self, name, binary, version):
        """One node with its own loop, so that it can stop on its own.

        Waits for the registration, so that ids follow the start order.
        """
        reporter = sg_reporter.Reporter(
            self.rpcapi, self.host(name), binary, topic=binary,
            service_version=version,
            availability_zone=CONF.default_availability_zone,
            membership=self.servicegroup.join(binary, self.host(name)))
        self.loops[name] = sg_reporter.ReportLoop([reporter],
                                                  CONF.report_interval)
        self.loops[name].start()
        poll('%s to register' % self.host(name), lambda: reporter.registered,
             CONF.conductor.call_timeout + SLACK)

    def stop_reporter(self, name, final_report=True):
        """Stop reporting, by default with a last report (a cast)."""
        self.loops.pop(name).stop(final_report)

    def services(self):
        """The demo's services, as an operator lists them (over RPC)."""
        ours = {self.host(name) for name, _, _ in FLEET}
        return [s for s in self.rpcapi.service_get_all(self.ctxt)
                if s['host'] in ours]

    def wait_listing(self, what, check):
        """Poll the listing until ``check(services)``; return it."""
        def ready():
            services = self.services()
            return services if check(services) else None
        return poll(what, ready)

    def stop(self, forget):
        """Stop everything; with ``forget``, delete the demo's services."""
        for name in list(self.loops):
            self.stop_reporter(name)
        if self.watcher is not None:
            self.watcher.stop()
        try:
            for found in self.services() if forget and self.rpcapi else ():
                self.rpcapi.service_delete(self.ctxt, found['host'],
                                           found['binary'])
        except exception.SGConductorException as exc:
            LOG.warning('Could not delete the demo services: %s', exc)
        if self.server is not None:
            self.server.stop()


def heading(deployment, title, story):
    say('\n== %s  (t = %.1f s)\n  %s' % (
        title, time.monotonic() - deployment.started, story))


def show(services):
    with _OUTPUT_LOCK:
        formatting.print_services(services, 'table')


def step_all_up(d):
    heading(d, 'Step 1/5: %d services start; all are up' % len(FLEET),
            '%s still runs version %s, the others version %s. Each registers '
            'with a call,\n  then casts report_state every %s s.'
            % (d.host(UPGRADED), OLD_VERSION, NEW_VERSION,
               CONF.report_interval))
    for name, binary, version in FLEET:
        d.start_reporter(name, binary, version)
    show(d.wait_listing('all services to be up', lambda services: (
        len(services) == len(FLEET)
        and all(s['state'] == 'up' for s in services))))
    say('  The API side asks the conductor for the minimum %s version every '
        '%s s:' % (COMPUTE, CONF.report_interval))
    d.watcher = MinVersionWatcher(d.rpcapi, CONF.report_interval)
    d.watcher.wait_for(OLD_VERSION)


def step_one_stops(d):
    host = d.host(STOPPED)
    heading(d, 'Step 2/5: %s stops; after service_down_time (%s s) it is '
            'down' % (host, CONF.service_down_time),
            '%s sends a last report and stops; its row stays, judged from '
            'the time\n  the conductor last heard from it.' % host)
    d.stop_reporter(STOPPED)
    show(d.wait_listing('%s to be down' % host, lambda services: (
        field(services, host, 'state') == 'down')))


def step_upgrade(d):
    host = d.host(UPGRADED)
    heading(d, 'Step 3/5: %s is upgraded from version %s to %s; the minimum '
            'version moves' % (host, OLD_VERSION, NEW_VERSION),
            'The API side sees minimum %s version %s. %s restarts with '
            'version %s\n  and registers again: same row, new version.'
            % (COMPUTE, d.watcher.value, host, NEW_VERSION))
    # No last report: that cast could land after the new registration
    # and briefly put the old version back.
    d.stop_reporter(UPGRADED, final_report=False)
    d.start_reporter(UPGRADED, COMPUTE, NEW_VERSION)
    d.watcher.wait_for(NEW_VERSION)
    show(d.wait_listing('%s at version %s' % (host, NEW_VERSION),
                        lambda services: field(services, host, 'version')
                        == NEW_VERSION))


def step_disable(d):
    host = d.host(DISABLED)
    heading(d, 'Step 4/5: an operator disables %s with a reason' % host,
            "Like: sgconductor-manage service disable %s %s --reason '%s'\n"
            '  A disabled service keeps reporting: it stays up.'
            % (host, COMPUTE, DISABLED_REASON))
    d.rpcapi.service_update(d.ctxt, host, COMPUTE, {
        'disabled': True, 'disabled_reason': DISABLED_REASON})
    show(d.services())


def step_delete(d):
    host = d.host(STOPPED)
    heading(d, 'Step 5/5: an operator deletes the stopped %s' % host,
            'Like: sgconductor-manage service delete %s %s\n  Its row is '
            'soft-deleted and disappears from the list.' % (host, COMPUTE))
    d.rpcapi.service_delete(d.ctxt, host, COMPUTE)
    show(d.services())


STEPS = (step_all_up, step_one_stops, step_upgrade, step_disable,
         step_delete)


def configure(tmpdir, run_id):
    """Point cfg.CONF at this run's transport, database, topic and timings.

    With a temporary directory, the embedded transport and database; the
    configured ones otherwise. The topic is unique per run so that a real
    conductor on the same broker never sees the demo's messages.
    """
    if tmpdir is not None:
        CONF.set_override('transport_url', EMBEDDED_TRANSPORT_URL)
        CONF.set_override('connection', 'sqlite:///' + os.path.join(
            tmpdir, 'sgconductor.sqlite'), group='database')
    if (CONF.transport_url or '').startswith('kombu+memory:'):
        # The in-memory transport has no heartbeats; asking warns.
        CONF.set_override('heartbeat_timeout_threshold', 0,
                          group='oslo_messaging_rabbit')
    CONF.set_override('report_interval', REPORT_INTERVAL)
    CONF.set_override('service_down_time', SERVICE_DOWN_TIME)
    CONF.set_override('topic', '%s-demo-%s' % (CONF.conductor.topic, run_id),
                      group='conductor')


def introduce(embedded):
    """Migrate the database to the newest schema and say what runs where."""
    sa_api.configure()
    migration.upgrade()
    origin = 'embedded' if embedded else 'from the configuration'
    say('sgconductor demo: a conductor, %d services and an API-side loop in '
        'this one process\n'
        '  transport:       %s (%s)\n'
        '  database:        %s (%s, schema %s)\n'
        '  conductor topic: %s\n'
        '  report_interval: %s s, service_down_time: %s s'
        % (len(FLEET), mask_passwords(CONF.transport_url or 'rabbit://'),
           origin, mask_passwords(CONF.database.connection), origin,
           migration.version(), CONF.conductor.topic, CONF.report_interval,
           CONF.service_down_time))


def run(embedded):
    """Run every step, then stop everything, even after a failure.

    ``embedded`` selects the in-memory transport and a temporary SQLite
    database; otherwise the configured ones are used and the demo's
    services (on hosts demo-<run id>-...) are deleted at the end. The
    overrides stay on cfg.CONF: the demo is meant to be a whole process.
    """
    run_id = uuid.uuid4().hex[:6]
    deployment = Deployment('' if embedded else 'demo-%s-' % run_id)
    tmpdir = tempfile.mkdtemp(prefix='sgconductor-demo-') if embedded else None
    try:
        configure(tmpdir, run_id)
        introduce(embedded)
        deployment.start_conductor()
        for step in STEPS:
            step(deployment)
        say('\nStopping the reporters, the API-side loop and the conductor%s.'
            % ('' if embedded else "; deleting the demo's services"))
    finally:
        deployment.stop(forget=not embedded)
        rpc.cleanup()
        sa_api.configure()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
    say('Done in %.1f s.' % (time.monotonic() - deployment.started))
