# SPDX-License-Identifier: Apache-2.0
"""What outage tests share: a fleet under watch, and the checks that
nobody was called down because of the outage.

A drill runs a conductor that emits ``service.state`` to a listener in
the test process, one compute process simulating FLEET services and one
real compute, and a state watcher listing them back to back. A listing
that shows a live service down, or a ``service.state`` that says so, is a
false down: what would have a cloud evacuate healthy hosts.
"""

import json
import signal
import time

import sqlalchemy as sa

from tests.functional import deployment as sg_deployment
from tests.functional import listener
from tests.functional import watcher as watcher_lib

# Reports every 2 s, down after 6 s of silence: an outage of 30 or 60 s
# is many times service_down_time.
REPORT_INTERVAL = 2
SERVICE_DOWN_TIME = 6
# Services simulated by one compute process (sgconductor-compute --fleet),
# and one real compute, "cn1".
FLEET = 300
HOSTS = sorted(['fleet-%05d' % i for i in range(1, FLEET + 1)] + ['cn1'])
# Seconds to wait for every service to be up at start.
START_LIMIT = 60
# Seconds a killed process, or a stopped compute, may take to exit.
CRASH_LIMIT = 15


def deployment(request, database, tmp_path, sections=None):
    """An outage test's deployment, for a ``deployment`` fixture of its
    module (which the ``client`` fixture uses too) to yield from."""
    deployment = sg_deployment.Deployment(
        tmp_path, database, service_down_time=SERVICE_DOWN_TIME,
        report_interval=REPORT_INTERVAL, sections=sections)
    request.node.sg_deployment = deployment
    deployment.db_sync()
    yield deployment
    deployment.cleanup()


def all_up(services):
    return (sorted(services) == HOSTS
            and all(s['state'] == 'up' for s in services.values()))


def reports_read_until(deployment):
    """The moment services are judged as of (None: no intake has read a
    mark yet, and services are judged as of now)."""
    engine = sa.create_engine(deployment.db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.text('SELECT read_until FROM report_progress')).scalar()
    finally:
        engine.dispose()


class Drill:
    """The processes of an outage test and what was seen of them."""

    # The conductor's [conductor] options: look for state changes every
    # second, so that a false down lasting a second is notified.
    CONDUCTOR = {'state_check_interval': 1}

    def __init__(self, deployment, conductor_sections=None,
                 compute_sections=None, fleet_command=None):
        """``fleet_command``: what simulates the fleet instead of
        ``sgconductor-compute --fleet`` (``tools/fleet.py``)."""
        self.deployment = deployment
        self.conductor_sections = conductor_sections
        self.compute_sections = compute_sections
        self.fleet_command = fleet_command
        self.children = []
        self.computes = {}
        self.received = None
        self.watcher = None
        self.listings = None
        # Computes started during the drill: listed too, once registered.
        self.late = set()
        self._notifications = None
        self._notified_before = 0

    def __enter__(self):
        """Start everything; return once every service is up and
        watched."""
        d = self.deployment
        self._notifications = listener.notifications(
            d, sections=self.conductor_sections, **self.CONDUCTOR)
        self.received = self._notifications.__enter__()
        self.children.append(d.conductor)
        for name, args, command in (
                ('fleet', ('--fleet', str(FLEET)), self.fleet_command),
                ('cn1', (), None)):
            self.computes[name] = d.start_compute(
                name, '--host', name, *args, sections=self.compute_sections,
                command=command)
        self.children.extend(self.computes.values())
        self.before = d.wait_for_services('every service up', all_up,
                                          START_LIMIT)
        # A fleet under watch: until the intake reads its first mark (a
        # hold after it starts), the deployment has no record of what it
        # read, and an outage then is one in its first seconds of life
        # (doc/faults.rst).
        d.wait_for('the intake reading marks',
                   lambda: reports_read_until(d), START_LIMIT)
        self.watcher = watcher_lib.StateWatcher(d)
        self.watcher.start()
        self.watcher.go()
        # What was notified while the fleet started is not the drill's.
        self._notified_before = len(self.received)
        return self

    def __exit__(self, *exc_info):
        return self._notifications.__exit__(*exc_info)

    def crash_conductor(self):
        """SIGKILL the conductor and its workers."""
        conductor = self.deployment.conductor
        self.children.remove(conductor)
        conductor.kill(CRASH_LIMIT)
        self.deployment.conductor = None

    def start_late_compute(self, name):
        """Start a compute on host ``name`` during the drill; its
        listings are watched as the others' are."""
        self.late.add(name)
        self.children.append(self.deployment.start_compute(
            name, '--host', name, sections=self.compute_sections))

    def restart_compute(self, name, *args):
        """Stop a compute, then start it again on the same host with
        ``args``."""
        old = self.computes[name]
        old.stop(CRASH_LIMIT)
        self.children.remove(old)
        self.computes[name] = self.deployment.start_compute(
            name + '-again', '--host', name, *args,
            sections=self.compute_sections)
        self.children.append(self.computes[name])

    def start_conductor(self):
        """Start a conductor again, configured as the first."""
        conductor = self.deployment.start_conductor(
            sections=listener.emitting(self.deployment,
                                       self.conductor_sections,
                                       **self.CONDUCTOR))
        self.children.append(conductor)
        return conductor

    def wait_until_listed(self, what, predicate, limit):
        """The computes' listing ({host: service}) once ``predicate``
        holds. A listing the conductor cannot answer yet is taken again:
        after an outage its RPC server reconnects after a back-off of its
        own (oslo.messaging's, up to 30 s)."""
        d = self.deployment

        def check():
            result = d.manage('service', 'list', '--binary',
                              sg_deployment.COMPUTE_BINARY,
                              '--format', 'json')
            if result.returncode != 0:
                return None
            services = {s['host']: s for s in json.loads(result.stdout)}
            return services if predicate(services) else None
        return d.wait_for(what, check, limit)

    def assert_running(self):
        dead = [p.name for p in self.children if not p.running()]
        assert not dead, '%s died\n%s' % (dead, self.deployment.describe())

    def check_no_false_down(self, outage_began, listings_back_by):
        """Stop the watcher; no listing showed a service down or lost one,
        none failed after ``listings_back_by`` (time.time()), and no
        ``service.state`` said down. Returns how many services were
        unknown at most in a listing after ``outage_began``."""
        problems = []
        unknown = 0
        self.listings = self.watcher.stop()
        for asked, answered, rows in self.listings:
            line = '%7.2f-%.2f s' % (asked - outage_began,
                                     answered - outage_began)
            if isinstance(rows, str):
                if answered > listings_back_by:
                    problems.append('%s failed: %s' % (line, rows))
                continue
            if sorted(host for host, _, _ in rows
                      if host not in self.late) != HOSTS:
                problems.append('%s lost or duplicated rows' % line)
            down = [row for row in rows if row[1] == 'down']
            if down:
                problems.append('%s down: %s' % (line, down[:5]))
            if asked > outage_began:
                unknown = max(unknown,
                              sum(row[1] == 'unknown' for row in rows))
        problems += ['notified: %s' % (event,)
                     for event in self.received[self._notified_before:]
                     if event[0] == 'service.state' and event[2] == 'down'
                     and (event[1] in HOSTS or event[1] in self.late)]
        assert not problems, '\n'.join(problems[:20])
        return unknown

    def check_failed_listings(self, in_a_row, in_all):
        """The watcher's listings failed for at most ``in_a_row`` s in a
        row and ``in_all`` s in all (check_no_false_down first)."""
        longest, total = self._failed_listings()
        print('listings failed for %.1f s at most in a row, %.1f s in all'
              % (longest, total))
        assert longest <= in_a_row and total <= in_all, (longest, total)

    def _failed_listings(self):
        """Seconds the watcher's listings failed: the longest run of
        failures in a row, and all of them, each run from the first
        failed listing asked to the last one answered."""
        runs = []
        for asked, answered, rows in self.listings:
            if not isinstance(rows, str):
                runs.append(None)
            elif runs and runs[-1] is not None:
                runs[-1][1] = answered
            else:
                runs.append([asked, answered])
        lengths = [end - start for start, end in filter(None, runs)]
        return max(lengths, default=0.0), sum(lengths)

    def check_recovery(self, outage_began, listings_back_by, after):
        """Everything an outage must leave as it was: nobody was called
        down (``check_no_false_down``), every process runs, the rows are
        the ones before it (``after``: a listing once all were up again),
        every service reported since, and the conductor logged no
        traceback."""
        unknown = self.check_no_false_down(outage_began, listings_back_by)
        print('at most %d services unknown in a listing' % unknown)
        self.assert_running()
        assert {h: s['uuid'] for h, s in after.items()} == {
            h: s['uuid'] for h, s in self.before.items()}
        stale = [h for h in HOSTS
                 if after[h]['report_count'] <= self.before[h]['report_count']]
        assert not stale, stale[:5]
        assert 'Traceback' not in self.deployment.read_log('conductor'), (
            self.deployment.describe())

    def conductor_log_since(self, lost, recovered):
        """The conductor's log from the line ``lost`` on, which must be
        followed by ``recovered``: an outage told once, and its end."""
        log = self.deployment.read_log('conductor')
        began = log.find(lost)
        assert 0 <= began < log.find(recovered, began), (
            'the conductor should log %r, then %r' % (lost, recovered))
        return log[began:]

    def check_judgement_works(self, limit):
        """A compute killed now is listed down, and notified down: the
        checks above would have seen a false one."""
        d = self.deployment
        self.computes['cn1'].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        d.wait_for_services('the killed compute to be down',
                            lambda s: s['cn1']['state'] == 'down', limit)
        print('killed compute down in %.1f s' % (time.monotonic() - killed))
        d.wait_for('the killed compute notified down',
                   lambda: ('service.state', 'cn1', 'down') in self.received,
                   limit)
