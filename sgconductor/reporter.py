# SPDX-License-Identifier: Apache-2.0
"""What a compute node embeds to prove it is alive.

A ``Reporter`` is one service's identity: it registers with a call (and so
learns its row, or that an operator deleted it) and then transmits
``report_state`` casts. A ``ReportLoop`` drives any number of reporters
from one thread, which is how a single agent process can simulate a fleet:

    loop = ReportLoop([Reporter(rpcapi, host='cn1', binary='nova-compute')],
                      interval=CONF.report_interval)
    loop.start()
    ...
    loop.stop()          # sends a last report for every reporter

The loop never dies: losing the conductor, the broker or the liveness
backend is logged once, recovery once, anything unexpected is logged and
the schedule kept.

With a servicegroup driver that has a membership backend (tooz), each
reporter also joins its group after registering, and checks before every
report that it is still a member: one that was dropped (its session
expired, or an operator deleted it and the conductor removed it) registers
again, and either rejoins or learns that it was deleted and stops.
"""

import heapq
import itertools
import random
import threading
import time

from oslo_log import log as logging

from sgconductor import exception
from sgconductor import outage
from sgconductor import version
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.servicegroup.drivers import base as servicegroup_base

LOG = logging.getLogger(__name__)

# Seconds between two heartbeats cast while no broker takes them: the
# other reporters of the loop skip theirs (they would fail too, and each
# failure costs a log line of oslo.messaging's per broker tried).
CAST_PROBE_INTERVAL = 1.0


def first_report_delay(interval):
    """Seconds from registering to the first report: random within one
    interval, so that a fleet that starts together does not report
    together (its registrations cannot be spread: a starting service must
    know its row at once)."""
    return random.uniform(0, interval)


class Reporter:
    """One service: what it reports and what the conductor told it."""

    def __init__(self, rpcapi, host, binary, topic=None,
                 service_version=version.SERVICE_VERSION,
                 availability_zone=None, membership=None):
        self.rpcapi = rpcapi
        self.membership = membership or servicegroup_base.Membership()
        self.report = {'host': host, 'binary': binary, 'topic': topic,
                       'version': service_version,
                       'availability_zone': availability_zone}
        self.uuid = None
        self.deleted = False
        # Why the conductor refused to register this service, if it did.
        self.refusal = None

    @property
    def registered(self):
        return self.uuid is not None

    @property
    def refused(self):
        return self.refusal is not None

    @property
    def retired(self):
        """Deleted by an operator, or refused by the conductor: it stops
        reporting until its process is restarted."""
        return self.deleted or self.refused

    def _payload(self):
        if self.uuid is None:
            return dict(self.report)
        return dict(self.report, uuid=self.uuid)

    def register(self, ctxt):
        """Register with a call; raises ConductorUnavailable."""
        try:
            result = self.rpcapi.register_service(ctxt, self._payload())
        except exception.InvalidReport as exc:
            self.refusal = exc
            LOG.error('The conductor refuses %(binary)s on %(host)s: '
                      '%(exc)s; it stops reporting.',
                      dict(self.report, exc=exception.first_line(exc)))
            return
        if result['outcome'] == 'deleted':
            self.deleted = True
            LOG.error('Service %(binary)s on %(host)s was deleted by an '
                      'operator; it stops reporting until it is restarted.',
                      self.report)
            self.membership.leave()
            return
        self.uuid = result['service']['uuid']
        LOG.info('Registered %(binary)s on %(host)s as service %(id)s.',
                 result['service'])

    def transmit(self, ctxt):
        """Cast one report_state; raises ConductorUnavailable."""
        self.rpcapi.report_state(ctxt, self._payload())

    def join(self, ctxt):
        """Join the membership backend; LivenessBackendUnavailable."""
        self.membership.join()

    def leave(self, ctxt):
        """Leave the membership backend; LivenessBackendUnavailable."""
        self.membership.leave()

    def check_membership(self, ctxt):
        """Register and rejoin if the backend dropped this service."""
        if self.membership.is_member():
            return
        LOG.warning('%(binary)s on %(host)s is no longer a member of its '
                    'group; registering again.', self.report)
        self.register(ctxt)
        if not self.retired:
            self.membership.join()


class ReportLoop:
    """Registers, then reports every ``interval`` s, for many reporters.

    The first report of each reporter comes after a random delay within
    one interval, so a fleet that starts together does not report
    together.
    """

    def __init__(self, reporters, interval, on_refused=None):
        """``on_refused(exc)`` is called, from the loop's thread, once the
        conductor has refused every reporter (a service older than it
        supports, say): nothing is left to do but exit."""
        self.reporters = list(reporters)
        self.interval = interval
        self._on_refused = on_refused
        self._stop = threading.Event()
        self._thread = None
        self._conductor = outage.Outage('the conductor')
        self._backend = outage.Outage('the liveness backend')
        self._ctxt = conductor_rpcapi.admin_context()
        # While casts fail, time.monotonic() when the next may be tried
        # (None: they do not fail).
        self._next_cast = None
        # Heartbeats not cast, because none could be.
        self.skipped = 0

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='sgconductor-reporter')
        self._thread.start()

    def stop(self, final_report=True, timeout=None):
        """Stop the loop; each registered service sends a last report and
        leaves its group.

        ``timeout`` bounds the wait for a step in flight (a call to a
        conductor that does not answer). If it runs out, nothing more is
        sent; without contact with the conductor, no last report is: either
        would only block the caller again. Returns False if the step in
        flight is still blocked.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                LOG.warning('A report in flight did not finish in %s s; '
                            'stopping without last reports.', timeout)
                return False
        final_report = final_report and not self._conductor.lost
        for reporter in self.reporters:
            if reporter.registered and not reporter.retired:
                if final_report:
                    self._attempt(reporter.transmit)
                self._attempt(reporter.leave)
        return True

    def _run(self):
        sequence = itertools.count()
        now = time.monotonic()
        schedule = [(now, next(sequence), r) for r in self.reporters]
        heapq.heapify(schedule)
        while schedule and not self._stop.is_set():
            due, _, reporter = schedule[0]
            if self._stop.wait(max(0.0, due - time.monotonic())):
                break
            heapq.heappop(schedule)
            delay = self._tick(reporter)
            if delay is not None:
                heapq.heappush(schedule, (time.monotonic() + delay,
                                          next(sequence), reporter))

    def _tick(self, reporter):
        """Do the reporter's next step; return seconds to its next one,
        None once it is retired."""
        if not reporter.registered:
            if not self._attempt(reporter.register, self._conductor):
                return self.interval
            if not reporter.retired:
                self._attempt(reporter.join, self._backend)
            delay = first_report_delay(self.interval)
        else:
            # The report first: a slow liveness backend must not delay it.
            self._cast(reporter)
            # May register again, and be refused then.
            self._attempt(reporter.check_membership, self._backend)
            delay = self.interval
        if not reporter.retired:
            return delay
        if self._on_refused and all(r.refused for r in self.reporters):
            self._on_refused(reporter.refusal)
        return None

    def _cast(self, reporter):
        """Transmit the reporter's heartbeat, unless casts fail and the
        next try is not due: then one reporter a CAST_PROBE_INTERVAL
        tries, and the others' heartbeats, which no broker would take,
        are skipped."""
        now = time.monotonic()
        if self._next_cast is not None and now < self._next_cast:
            self.skipped += 1
            return
        if self._attempt(reporter.transmit, self._conductor):
            self._next_cast = None
        else:
            self._next_cast = now + CAST_PROBE_INTERVAL

    def _attempt(self, step, outage=None):
        """Run one step; True if it worked. Never raises."""
        try:
            step(self._ctxt)
        except (exception.ConductorUnavailable,
                exception.DatabaseUnavailable) as exc:
            # No conductor that answered could serve: an outage too. A
            # remote error's text carries the server's traceback.
            self._conductor.failed(exception.first_line(exc))
        except exception.LivenessBackendUnavailable as exc:
            self._backend.failed(exc)
        except Exception:
            LOG.exception('Unexpected error while reporting; will retry.')
        else:
            if outage is not None:
                outage.succeeded()
            return True
        return False
