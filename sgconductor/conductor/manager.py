# SPDX-License-Identifier: Apache-2.0
"""The conductor's RPC endpoint: the only writer of the services table.

Endpoint methods stay thin: validation lives in ``validation``, storage in
``sgconductor.db``, liveness in ``sgconductor.servicegroup``. Only methods
marked ``@messaging.expose`` can be called (ExplicitRPCAccessPolicy).

Time is always the conductor's: ``last_seen_up`` is stamped here from
``timeutils.utcnow()`` and never taken from a sender.
"""

import datetime
import time

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from sgconductor import exception
from sgconductor import notifications
from sgconductor.conductor import announcer
from sgconductor.conductor import clocks
from sgconductor.conductor import progress
from sgconductor.conductor import rejected
from sgconductor.conductor import reports
from sgconductor.conductor import statewatch
from sgconductor.conductor import validation
from sgconductor.db import api as db_api
from sgconductor.servicegroup import api as servicegroup_api

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# Seconds the version bounds may use an old judged_as_of().
READ_UNTIL_MAX_AGE = 1.0

# Keep in sync with ConductorAPI.RPC_API_VERSION (a unit test checks).
RPC_API_VERSION = '1.6'


_STATE_NAMES = {True: 'up', False: 'down', None: 'unknown'}


def _isotime(value):
    return value.isoformat() if value else None


def service_to_primitive(service, state):
    """The wire form of one service, as listings show it."""
    return {
        'id': service.id,
        'uuid': service.uuid,
        'host': service.host,
        'binary': service.binary,
        'topic': service.topic,
        'zone': service.availability_zone,
        'status': 'disabled' if service.disabled else 'enabled',
        'state': _STATE_NAMES[state.up],
        'state_reason': state.reason,
        'disabled_reason': service.disabled_reason,
        'forced_down': service.forced_down,
        'version': service.version,
        'report_count': service.report_count,
        'last_seen_up': _isotime(service.last_seen_up),
        'clock_skew': service.clock_skew,
        'created_at': _isotime(service.created_at),
        'updated_at': _isotime(service.updated_at),
    }


def _registration(report):
    """``(values, uuid)`` to write for a register_service payload, with
    the sender's clock skew (None: not sent); raises InvalidReport."""
    values, uuid, sent_at = validation.check_registration(report)
    # Unknown (None) if not sent: a service downgraded to a release that
    # does not send it.
    values['clock_skew'] = (None if sent_at is None else
                            clocks.skew(values, sent_at))
    return values, uuid


def silent_since(read_until, seconds):
    """``seconds`` before the moment services are judged as of."""
    return (servicegroup_api.judged_as_of(read_until, timeutils.utcnow())
            - datetime.timedelta(seconds=seconds))


def effective_dead_after():
    """[conductor] dead_after, raised to twice the service down time if
    shorter: a service that is only late must never drop out of the
    version bounds."""
    dead_after = CONF.conductor.dead_after
    floor = 2 * servicegroup_api.effective_service_down_time()
    if dead_after < floor:
        LOG.warning('[conductor] dead_after (%(dead)s s) must be at least '
                    'twice service_down_time; using %(floor)s s.',
                    {'dead': dead_after, 'floor': floor})
        return floor
    return dead_after


def dead_before(read_until, dead_after):
    """Services whose last report is older than this are dead (silent
    for ``dead_after`` s): left out of the version bounds."""
    return silent_since(read_until, dead_after)


def _seen_since(service, moment):
    last = service.last_seen_up or service.created_at
    return last > moment


class ConductorManager:
    """RPC endpoint of ``[conductor] topic``; see doc/rpc-api.rst."""

    target = messaging.Target(version=RPC_API_VERSION)

    def __init__(self, topic):
        self.dbapi = db_api.get_instance()
        self.servicegroup = servicegroup_api.API()
        self.announcer = announcer.VersionAnnouncer(topic)
        self.notifier = notifications.ServiceNotifier()
        self.reports = reports.ReportWriter(self.dbapi, self.announcer,
                                            self.notifier)
        # (judged_as_of(), time.monotonic() when read)
        self._read_until = (None, -READ_UNTIL_MAX_AGE)
        # What announce_version_expiry saw last: {binary: (min, max)}.
        self._swept = None
        self.dead_after = effective_dead_after()

    def init_host(self):
        """Before serving: coalesce heartbeats from now on, watch the
        liveness backend, so that an outage is noticed even while nobody
        lists services, and announce version changes and send
        notifications. Without it, every report is written at once."""
        self.announcer.start()
        self.notifier.start()
        self.reports.start()
        self.servicegroup.start()

    def cleanup_host(self):
        """After serving: write the last heartbeats, release the liveness
        backend, send the last announcement and notifications."""
        self.reports.stop()
        self.servicegroup.stop()
        self.announcer.stop()
        self.notifier.stop()

    def judged_as_of(self):
        """The moment services are judged as of, from the database
        (progress.py), or None: as of now."""
        return self.dbapi.reports_judged_as_of(timeutils.utcnow(),
                                               progress.dropout())

    def _primitive(self, service, read_until=None):
        return service_to_primitive(
            service, self.servicegroup.get_states([service], read_until)[0])

    def _registered(self, written):
        """What register_service returns for each ``(service, outcome)``
        written, the services judged together."""
        services = [service for service, _ in written if service is not None]
        states = iter(self.servicegroup.get_states(services, None)
                      if services else ())
        return [{'outcome': outcome,
                 'service': service and service_to_primitive(service,
                                                              next(states))}
                for service, outcome in written]

    def _judged(self, host=None, binary=None):
        """The live services (optionally filtered), their states, and the
        moment they are judged as of (``judged_as_of()``).

        That moment is read first. A flush that commits between the two
        reads then only makes the services fresher than it; read the
        other way round, the first flush after an outage, which moves it
        far forward with the heartbeats of the whole outage, would have
        services judged against a moment their reports are not read for.
        """
        read_until = self.judged_as_of()
        services = self.dbapi.service_get_all(host=host, binary=binary)
        return (services, self.servicegroup.get_states(services, read_until),
                read_until)

    @messaging.expose
    @messaging.expected_exceptions(exception.InvalidReport,
                                   exception.DatabaseUnavailable,
                                   exception.DatabaseError)
    def register_service(self, context, **report):
        """Create or refresh a service's row and return it (a call).

        Returns ``{'outcome': 'created'|'updated'|'deleted', 'service':
        dict or None}``; 'deleted' means the uuid sent belongs to a service
        an operator deleted, and nothing was written.

        ``sent_at`` (1.5), the sender's clock, is compared with the
        conductor's: the difference is stored as clock_skew, and logged
        when it exceeds [conductor] clock_skew_warning.
        """
        try:
            written = self.reports.write(*_registration(report))
        except exception.SGConductorException as exc:
            refused = exc
        else:
            return self._registered([written])[0]
        # Logged outside the except block: oslo.log would append the
        # exception being handled and repeat the message.
        rejected.registration(refused)
        raise refused

    def register_services(self, payloads):
        """register_service of many callers at once, written in one
        transaction (the registration server). Returns, per report, what
        register_service would return, or the SGConductorException it
        would raise."""
        results = [None] * len(payloads)
        checked = []
        for index, report in enumerate(payloads):
            try:
                checked.append((index, _registration(report)))
            except exception.InvalidReport as exc:
                results[index] = exc
            except Exception as exc:
                # A bug: it costs this caller, not the whole batch.
                LOG.exception('Could not check a registration.')
                results[index] = exc
        written = self.reports.write_registrations(
            [registration for _, registration in checked]) if checked else []
        accepted = []
        for (index, _), result in zip(checked, written, strict=True):
            if isinstance(result, exception.SGConductorException):
                results[index] = result
            else:
                accepted.append((index, result))
        for (index, _), answer in zip(accepted, self._registered(
                [result for _, result in accepted]), strict=True):
            results[index] = answer
        for result in results:
            if isinstance(result, exception.SGConductorException):
                rejected.registration(result)
        return results

    @messaging.expose
    def report_state(self, context, **report):
        """Record a heartbeat (a cast: nothing is returned, nothing raised).

        Reporters cast it to the reports topic, which the intake consumes
        in batches (see ``reports.ReportWriter.take``); this method serves
        clients that still send it to the conductor topic.
        """
        self.reports.take([report])

    @messaging.expose
    @messaging.expected_exceptions(exception.Invalid,
                                   exception.DatabaseUnavailable)
    def service_get_all(self, context, host=None, binary=None,
                        down_for=None):
        """List live services, optionally filtered, with their state.

        ``down_for`` (1.1): only services judged down whose last report is
        at least that many seconds older than the moment they are judged
        as of (forced-down ones included).
        """
        validation.check_name(host, 'host', validation.invalid,
                              required=False)
        validation.check_name(binary, 'binary', validation.invalid,
                              required=False)
        validation.check_non_negative_int(down_for, 'down_for',
                                          validation.invalid, required=False)
        return self._list(host, binary, down_for)[0]

    def _list(self, host=None, binary=None, down_for=None):
        """service_get_all's answer, and the moment it judged as of."""
        services, states, read_until = self._judged(host, binary)
        listed = zip(services, states, strict=True)
        if down_for is not None:
            since = silent_since(read_until, down_for)
            listed = [(service, state) for service, state in listed
                      if state.up is False
                      and not _seen_since(service, since)]
        return ([service_to_primitive(service, state)
                 for service, state in listed], read_until)

    @messaging.expose
    @messaging.expected_exceptions(exception.Invalid,
                                   exception.ServiceNotFound,
                                   exception.DatabaseUnavailable)
    def service_update(self, context, host=None, binary=None, values=None,
                       uuid=None, service_id=None):
        """Change disabled, disabled_reason and/or forced_down of the
        service named by host and binary, or (1.3) by uuid or
        service_id."""
        key = validation.check_service_key(host, binary, uuid, service_id)
        changes = validation.check_update(values)
        read_until = self.judged_as_of()  # first: see _judged
        service = self.dbapi.service_update(key, changes)
        self.notifier.updated(service)
        if 'forced_down' in changes:
            self.announcer.touched([service.binary])
        LOG.info('Service %(binary)s on %(host)s updated: %(changes)s',
                 {'binary': service.binary, 'host': service.host,
                  'changes': changes})
        return self._primitive(service, read_until)

    @messaging.expose
    @messaging.expected_exceptions(exception.Invalid,
                                   exception.ServiceNotFound,
                                   exception.DatabaseUnavailable)
    def service_delete(self, context, host=None, binary=None, uuid=None,
                       service_id=None):
        """Soft-delete the service named as service_update says; its
        reports are ignored from now on."""
        key = validation.check_service_key(host, binary, uuid, service_id)
        service = self.dbapi.service_destroy(key, timeutils.utcnow())
        self.notifier.deleted(service)
        self.reports.forget(service.host, service.binary)
        self.announcer.touched([service.binary])
        self.servicegroup.remove(service.binary, service.host)
        LOG.info('Service %(binary)s on %(host)s deleted.',
                 {'binary': service.binary, 'host': service.host})

    @messaging.expose
    @messaging.expected_exceptions(exception.Invalid,
                                   exception.DatabaseUnavailable)
    def service_purge(self, context, down_for, dry_run=False):
        """Soft-delete every service that service_get_all(down_for=...)
        lists, as service_delete does, unless it reported meanwhile;
        with ``dry_run``, only list them (1.2). Returns the services
        deleted (or that would be), as listed before.

        ``down_for`` must be at least service_down_time: a service silent
        for less may only be late.
        """
        validation.check_non_negative_int(down_for, 'down_for',
                                          validation.invalid)
        down_time = self.servicegroup.service_down_time
        if down_for < down_time:
            raise validation.invalid(
                'down_for', 'must be at least service_down_time (%d s): a '
                'service silent for less may only be late' % down_time)
        if not isinstance(dry_run, bool):
            raise validation.invalid('dry_run', 'must be true or false')
        services, read_until = self._list(down_for=down_for)
        if dry_run or not services:
            return services
        purged = self.dbapi.service_destroy_silent(
            [s['id'] for s in services], silent_since(read_until, down_for),
            timeutils.utcnow())
        for row in purged:
            self.notifier.deleted(row)
        purged_ids = {row.id for row in purged}
        services = [s for s in services if s['id'] in purged_ids]
        for service in services:
            self.reports.forget(service['host'], service['binary'])
            self.servicegroup.remove(service['binary'], service['host'])
        self.announcer.touched(s['binary'] for s in services)
        LOG.info('Purged %(count)d service(s) down for at least %(down)d '
                 's: %(names)s', {
                     'count': len(services), 'down': down_for,
                     'names': ', '.join('%s on %s' % (s['binary'], s['host'])
                                        for s in services)})
        return services

    @messaging.expose
    @messaging.expected_exceptions(exception.DatabaseUnavailable)
    def get_service_stats(self, context):
        """What /metrics shows (1.4): the number of services per binary
        and state, and of disabled ones, judged as listings are; the
        reports ever recorded; and how many seconds ago the moment is up
        to which every report was read and written (None if no intake
        said yet); and the counts of every conductor process's tallies
        (sgconductor/tally.py), as ``{name: {host: {reason: count}}}``
        (a key conductors of earlier releases do not send)."""
        services, states, read_until = self._judged()
        counts = {}
        for service, state in zip(services, states, strict=True):
            binary = counts.setdefault(service.binary, dict.fromkeys(
                list(_STATE_NAMES.values()) + ['disabled'], 0))
            binary[_STATE_NAMES[state.up]] += 1
            binary['disabled'] += service.disabled
        lag = None
        if read_until is not None:
            lag = max(0.0, (timeutils.utcnow() - read_until).total_seconds())
        return {'binaries': counts,
                'reports': self.dbapi.service_count_reports(),
                'report_lag': lag,
                'counters': self.dbapi.counter_totals()}

    def _alive_since(self):
        """When a service must have last reported to count for the
        version bounds: [conductor] dead_after before the moment up to
        which every report has been read (so a conductor behind on its
        queue declares nobody dead), read at most once a second, since
        every get_min_version needs it."""
        now = time.monotonic()
        read_until, read_at = self._read_until
        if now - read_at > READ_UNTIL_MAX_AGE:
            read_until = self.judged_as_of()
            self._read_until = (read_until, now)
        return dead_before(read_until, self.dead_after)

    @messaging.expose
    @messaging.expected_exceptions(exception.Invalid,
                                   exception.DatabaseUnavailable)
    def get_min_version(self, context, binaries):
        """Map each binary to the lowest version it runs (None if none);
        dead, deleted and forced-down services do not count."""
        return self.dbapi.service_get_min_versions(
            validation.check_binaries(binaries, validation.invalid),
            self._alive_since())

    @messaging.expose
    @messaging.expected_exceptions(exception.Invalid,
                                   exception.DatabaseUnavailable)
    def get_max_version(self, context, binaries):
        """Map each binary to the highest version it runs (None if none);
        see get_min_version."""
        return self.dbapi.service_get_max_versions(
            validation.check_binaries(binaries, validation.invalid),
            self._alive_since())

    def notify_state_changes(self):
        """Notify service.state for each service that went up or down
        since the last look (statewatch.py); nothing without
        notifications. ``service.Conductor`` runs it every [conductor]
        state_check_interval in one process per host."""
        if self.notifier.enabled:
            services, states, _ = self._judged()
            statewatch.notify_state_changes(self.dbapi, services, states,
                                            self.notifier)

    def announce_version_expiry(self):
        """Announce the binaries whose version bounds changed without a
        write since the last call: a service became dead, or came back
        from the dead with a heartbeat (which the heartbeat path does not
        announce). ``service.Conductor`` runs it every minute in one
        process per host; the first call only takes note."""
        binaries = sorted(self.dbapi.service_get_binaries())
        bounds = {}
        for start in range(0, len(binaries), validation.MAX_BINARIES):
            chunk = binaries[start:start + validation.MAX_BINARIES]
            alive_since = self._alive_since()
            lows = self.dbapi.service_get_min_versions(chunk, alive_since)
            highs = self.dbapi.service_get_max_versions(chunk, alive_since)
            bounds.update((binary, (lows[binary], highs[binary]))
                          for binary in chunk)
        if self._swept is not None:
            self.announcer.touched(
                binary for binary in set(bounds) | set(self._swept)
                if bounds.get(binary) != self._swept.get(binary))
        self._swept = bounds
