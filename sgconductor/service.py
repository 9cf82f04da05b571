# SPDX-License-Identifier: Apache-2.0
"""The conductor as processes: cotyledon workers of two kinds.

``[conductor] intake_workers`` processes take heartbeats off the reports
topic in batches (``Intake``); ``[conductor] workers`` processes serve the
calls of the conductor topic with an oslo.messaging RPC server, and
get_min_version / get_max_version from the versions topic on a thread of
their own (``Conductor``). Heartbeats and calls never share a queue, a
thread pool or an interpreter lock, so a flood of heartbeats cannot slow
down an operator's call or get_min_version, nor a burst of calls the
heartbeats (Neutron's ``rpc_state_report_workers`` separates them for the
same reason); nor does a storm of registrations delay get_min_version.

cotyledon restarts a worker that dies and turns SIGTERM into a clean
stop: consumers stop taking messages, finish the ones in hand, and the
last counted heartbeats are written before the process exits.
"""

import os

import cotyledon
import oslo_messaging as messaging
from oslo_config import cfg
from oslo_log import log as logging

from sgconductor import notifications
from sgconductor import reporter
from sgconductor import rpc
from sgconductor import threads
from sgconductor.conductor import announcer
from sgconductor.conductor import autodisable
from sgconductor.conductor import counters
from sgconductor.conductor import gate
from sgconductor.conductor import intake
from sgconductor.conductor import localapi
from sgconductor.conductor import manager
from sgconductor.conductor import pinning
from sgconductor.conductor import progress
from sgconductor.conductor import registrationserver
from sgconductor.conductor import reports
from sgconductor.conductor import rpcapi
from sgconductor.conductor import versionserver
from sgconductor.db import api as db_api

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# How much lower than the call workers' the intake workers' CPU priority is.
INTAKE_NICENESS = 10
# Seconds between two looks for services that died or came back, whose
# versions stop or start counting (one conductor process per host looks).
VERSION_SWEEP_INTERVAL = 60
# Seconds between two looks whether this conductor can write to its
# database, to disable or enable itself.
AUTO_DISABLE_INTERVAL = 1


def _reports_topic():
    return rpcapi.reports_topic(CONF.conductor.topic)


class Intake:
    """Heartbeats of the reports topic, recorded by a writer of its own.
    ``process`` names this process among the host's, for its counts
    (None inside a Conductor, whose writer writes the process's)."""

    def __init__(self, process=None):
        self.announcer = announcer.VersionAnnouncer(CONF.conductor.topic)
        self.notifier = notifications.ServiceNotifier()
        self.progress = progress.IntakeProgress(CONF.host)
        self.writer = reports.ReportWriter(
            db_api.get_instance(), self.announcer, self.notifier,
            progress=self.progress)
        self.consumer = intake.ReportIntake(
            self.writer.take, self.progress, _reports_topic(),
            manager.RPC_API_VERSION, CONF.conductor.report_prefetch,
            gate=gate.Gate('heartbeat intake', _reports_topic(),
                           self.writer.heartbeats.writable))
        self.counters = process and counters.CounterWriter(
            db_api.get_instance(), CONF.host, process)

    def start(self):
        self.announcer.start()
        self.notifier.start()
        self.writer.start()
        self.writer.learn_registered()
        if self.counters:
            self.counters.start()
        self.consumer.start()

    def stop(self):
        """Finish the batch in hand, then write the last heartbeats (and
        delete this intake's progress)."""
        self.consumer.stop()
        self.progress.retire()
        self.writer.stop()
        if self.counters:
            self.counters.stop()
        self.announcer.stop()
        self.notifier.stop()


class Conductor:
    """The endpoint and the RPC server of the conductor topic, the
    version server of the versions topic, the registration server of the
    registrations topic, and, unless ``with_intake`` is
    False, an Intake in the same process (tests, the demo). With
    ``report_self`` (one process per host), it also registers and reports
    this host's conductor, every minute looks for services that died or
    came back (``ConductorManager.announce_version_expiry``), and every
    ``[conductor] state_check_interval`` for services that went up or down
    (``ConductorManager.notify_state_changes``).

    ``transport`` defaults to the process-wide one; an in-process conductor
    beside clients (tests, the demo) may want its own, so that a client
    closing the shared transport does not stop the conductor.
    """

    def __init__(self, transport=None, with_intake=True, report_self=False,
                 process='worker-0'):
        topic = CONF.conductor.topic
        self.manager = manager.ConductorManager(topic)
        self.counters = counters.CounterWriter(self.manager.dbapi, CONF.host,
                                               process)
        # Its own consumers let go of their queues while this process
        # cannot write to the database and another process takes from
        # them (gate.py says why the RPC server does not).
        writable = self.manager.reports.heartbeats.writable
        self.server = rpc.get_server(
            messaging.Target(topic=topic, server=CONF.host), [self.manager],
            transport)
        versions_topic = rpcapi.versions_topic(topic)
        self.version_server = versionserver.VersionServer(
            self.manager, versions_topic,
            gate=gate.Gate('version server', versions_topic, writable))
        # A reporter registers before it casts its first report, which
        # would be dropped unless the reports queue were declared: the
        # registration server declares it, not counting on an intake
        # process having started first.
        registrations_topic = rpcapi.registrations_topic(topic)
        self.registration_server = registrationserver.RegistrationServer(
            self.manager, registrations_topic,
            declare=[_reports_topic()],
            gate=gate.Gate('registration server', registrations_topic,
                           writable))
        self.intake = Intake() if with_intake else None
        self.self_report = None
        self.watchers = []
        if report_self:
            self._report_self()

    def _report_self(self):
        """Register and report this host's conductor, disable it while it
        cannot write to its database (``autodisable.py``), and watch the
        services of the whole deployment."""
        topic = CONF.conductor.topic
        heartbeats = self.manager.reports.heartbeats
        remote = rpcapi.ConductorAPI(topic)
        self.self_report = reporter.ReportLoop([reporter.Reporter(
            localapi.LocalConductorAPI(self.manager, topic, remote,
                                       heartbeats.writable),
            CONF.host, pinning.CONDUCTOR_BINARY, topic=topic,
            availability_zone=CONF.default_availability_zone,
            membership=self.manager.servicegroup.join(
                pinning.CONDUCTOR_BINARY, CONF.host))],
            CONF.report_interval)
        auto = autodisable.AutoDisable(self.manager, remote, CONF.host,
                                       heartbeats.unwritable)
        self.watchers = [
            threads.Periodic(
                'sgconductor-auto-disable', AUTO_DISABLE_INTERVAL,
                lambda: auto.look(rpcapi.admin_context()),
                'disable or enable this conductor as it can write to its '
                'database'),
            # What one process per host does for the whole deployment.
            threads.Periodic(
                'sgconductor-version-sweep', VERSION_SWEEP_INTERVAL,
                self.manager.announce_version_expiry,
                'look for services that died or came back'),
            threads.Periodic(
                'sgconductor-state-watch',
                CONF.conductor.state_check_interval,
                self.manager.notify_state_changes,
                'look for services that went up or down'),
        ]

    def start(self):
        self.manager.init_host()
        self.counters.start()
        if self.intake is not None:
            self.intake.start()
        self.version_server.start()
        self.registration_server.start()
        self.server.start()
        if self.self_report is not None:
            self.self_report.start()
        for watcher in self.watchers:
            watcher.start()

    def stop(self):
        """Finish the calls in hand, then write the last heartbeats."""
        for watcher in self.watchers:
            watcher.stop()
        if self.self_report is not None:
            self.self_report.stop()
        self.server.stop()
        self.server.wait()
        self.version_server.stop()
        self.registration_server.stop()
        if self.intake is not None:
            self.intake.stop()
        self.manager.cleanup_host()
        self.counters.stop()


class ConductorService(cotyledon.Service):
    name = 'sgconductor-conductor'

    def __init__(self, worker_id):
        super().__init__(worker_id)
        self.conductor = None

    def run(self):
        self.conductor = Conductor(with_intake=False,
                                   report_self=self.worker_id == 0,
                                   process='worker-%d' % self.worker_id)
        self.conductor.start()
        LOG.info('Conductor worker %(worker)s consuming topic %(topic)s.',
                 {'worker': self.worker_id, 'topic': CONF.conductor.topic})

    def terminate(self):
        if self.conductor is not None:
            self.conductor.stop()
        rpc.cleanup()
        LOG.info('Conductor worker %s stopped.', self.worker_id)


class IntakeService(cotyledon.Service):
    name = 'sgconductor-intake'

    def __init__(self, worker_id):
        super().__init__(worker_id)
        self.intake = None

    def run(self):
        # Heartbeats want throughput, calls want latency: when both compete
        # for the CPU, the call workers go first, and the heartbeats wait
        # a little in the queue (they are coalesced anyway).
        os.nice(INTAKE_NICENESS)
        self.intake = Intake(process='intake-%d' % self.worker_id)
        self.intake.start()
        LOG.info('Heartbeat intake worker %(worker)s taking reports from '
                 '%(topic)s.',
                 {'worker': self.worker_id, 'topic': _reports_topic()})

    def terminate(self):
        if self.intake is not None:
            self.intake.stop()
        LOG.info('Heartbeat intake worker %s stopped.', self.worker_id)


def serve():
    """Run the conductor until SIGTERM or SIGINT."""
    service_manager = cotyledon.ServiceManager()
    service_manager.add(IntakeService, workers=CONF.conductor.intake_workers)
    service_manager.add(ConductorService, workers=CONF.conductor.workers)
    service_manager.run()
