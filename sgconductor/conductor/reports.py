# SPDX-License-Identifier: Apache-2.0
"""Where service reports go: counted in memory, or written through.

Both the conductor's RPC endpoint (registrations, report_state sent to the
conductor topic) and the heartbeat intake (report_state in batches) record
reports through a ReportWriter; each process has its own, with its own
HeartbeatBuffer. A report of a service the writer knows, that only says
"alive", is counted and flushed later with the others; anything else
(a new service, a new version, topic or zone) is written at once with
``service_upsert_many``: a batch of the intake in one transaction, the
registrations the registration server took together in one, and
concurrent registrations on the conductor topic together through
``groupcommit``.
"""

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from sgconductor import exception
from sgconductor import outage
from sgconductor.conductor import deferred
from sgconductor.conductor import groupcommit
from sgconductor.conductor import heartbeats
from sgconductor.conductor import rejected
from sgconductor.conductor import validation
from sgconductor.db import api as db_api

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# New services written together that are logged one line each; more are
# logged in one line (and each at debug level; notified all the same).
LOG_EACH = 10


class ReportWriter:
    """``announcer``, if given, hears of every service written through
    (a registration, a new version): those may change the versions of
    its binary. ``notifier``, if given, of every service created."""

    def __init__(self, dbapi, announcer=None, notifier=None,
                 progress=None):
        """``progress``: the intake's whose reports these are, if any
        (``heartbeats.HeartbeatBuffer``)."""
        self.dbapi = dbapi
        self.announcer = announcer
        self.notifier = notifier
        self.heartbeats = heartbeats.HeartbeatBuffer(
            dbapi, CONF.conductor.flush_interval,
            before_flush=self._write_deferred, progress=progress)
        # Reports that could not be written through while the database
        # was away (only while the flusher runs to write them later).
        self.deferred = deferred.DeferredReports()
        self._database = outage.Outage(
            'the database (reports written through)')
        self._registrations = groupcommit.GroupCommit(
            self.write_registrations)

    def start(self):
        """Coalesce heartbeats from now on (until then, every report is
        written at once)."""
        self.heartbeats.start()

    def stop(self):
        """Write the heartbeats counted so far; stop coalescing."""
        self.heartbeats.stop()
        if self.deferred:
            LOG.warning('Stopped with the reports of %d services still '
                        'waiting for the database: they are lost.',
                        len(self.deferred))

    def forget(self, host, binary):
        """The service was deleted: write its next report through (which
        finds out it was deleted)."""
        self.heartbeats.forget(host, binary)

    def write(self, values, uuid):
        """Write one report through (a registration), in one transaction
        with those of concurrent callers; see ``groupcommit``. Returns
        ``(service, outcome)``; raises SGConductorException."""
        return self._registrations.submit((values, uuid))

    def write_registrations(self, reports):
        """Write registrations through in one transaction, like
        ``write_many``. Each takes over the report of its service kept
        while the database was away (older than it), so that the flush
        never writes that one over it."""
        superseded = self.deferred.supersede(
            [values for values, _ in reports])
        try:
            results = self.write_many(reports, timeutils.utcnow())
        except Exception:
            self.deferred.put_back(superseded)
            raise
        if superseded:
            written = {deferred.service_key(values): result
                       for (values, _), result in zip(reports, results,
                                                      strict=True)}
            unwritten = []
            for entry in superseded:
                result = written[deferred.service_key(entry.values)]
                if isinstance(result, exception.SGConductorException):
                    unwritten.append(entry)
                elif result[0] is not None:
                    self.heartbeats.count(result[0].id, entry.count,
                                          entry.latest)
            self.deferred.put_back(unwritten)
        return results

    def write_many(self, reports, now):
        """Write ``(values, uuid)`` reports through in one transaction
        (``service_upsert_many``). Returns, per report, ``(service,
        outcome)`` or the SGConductorException that refused it: a report
        the database refuses costs only itself."""
        try:
            results = self.dbapi.service_upsert_many(reports, now)
        except exception.DatabaseError as exc:
            if len(reports) == 1:
                return [exc]
            return [self.write_many([report], now)[0]
                    for report in reports]
        except exception.SGConductorException as exc:
            return [exc] * len(reports)
        created = []
        for (values, _), (service, outcome) in zip(reports, results,
                                                   strict=True):
            self._written(values, service, outcome)
            if outcome == db_api.CREATED:
                created.append(values)
        _log_created(created)
        return results

    def _written(self, values, service, outcome):
        if service is not None:
            self.heartbeats.remember(service)
            if self.announcer is not None:
                self.announcer.touched([values['binary']])
        if outcome == db_api.CREATED:
            if self.notifier is not None:
                self.notifier.created(service)
        elif outcome == db_api.DELETED:
            # Every report of a deleted, still-running service lands here;
            # the deletion itself was logged at info.
            LOG.debug('Ignored a report of %(binary)s on %(host)s: an '
                      'operator deleted this service; it must be restarted '
                      'to register again.', values)

    def take(self, reports):
        """Record report_state payloads; return how many were refused.

        A bad report or an unreachable database costs that report (counted
        and logged at a bounded rate: rejected.py), never the caller.
        """
        now = timeutils.utcnow()
        refused = 0
        unknown = []
        for report in reports:
            try:
                values, uuid = validation.check_report(report)
            except exception.InvalidReport as exc:
                rejected.report(rejected.INVALID_REPORT, exc)
                refused += 1
                continue
            if not self.heartbeats.offer(values, uuid, now):
                unknown.append((values, uuid))
        to_write, waiting = [], []
        for report in self._learn(unknown, now):
            # Behind a report of the same service waiting for the
            # database, or it would be written out of order.
            (waiting if self.deferred.holds(report[0]) else
             to_write).append(report)
        results = self.write_many(to_write, now) if to_write else []
        for report, result in zip(to_write, results, strict=True):
            if (isinstance(result, exception.DatabaseUnavailable)
                    and self.heartbeats.running):
                self._database.failed(result)
                waiting.append(report)
            elif isinstance(result, exception.SGConductorException):
                refused += _dropped(report[0], result)
        for values, uuid in waiting:
            if not self.deferred.add(values, uuid, now):
                refused += 1
        return refused

    def _write_deferred(self):
        """Write the reports kept while the database was away, before
        the heartbeats and the intake's progress of the same flush: each
        service's latest report is written as of the earliest of them,
        then moved forward to its own time with the heartbeats. Raises
        DatabaseUnavailable (and keeps them) if it is still away."""
        entries = self.deferred.take()
        if not entries:
            return
        # Until they are known written, every entry waits again.
        unwritten = entries
        try:
            results = self.write_many(
                [(e.values, e.uuid) for e in entries],
                min(e.latest for e in entries))
            unwritten = []
            for entry, result in zip(entries, results, strict=True):
                if isinstance(result, exception.DatabaseUnavailable):
                    unwritten.append(entry)
                elif isinstance(result, exception.SGConductorException):
                    _dropped(entry.values, result)
                elif result[0] is not None:
                    self.heartbeats.count(result[0].id, entry.count - 1,
                                          entry.latest)
        finally:
            self.deferred.finish(unwritten)
        if unwritten:
            raise exception.DatabaseUnavailable(
                reason='%d reports still wait for it' % len(unwritten))
        self._database.succeeded()
        LOG.info('Wrote the reports of %d services kept while the '
                 'database was away.', len(entries))
        dropped = self.deferred.take_dropped()
        if dropped:
            LOG.warning('%(dropped)d reports were dropped while the '
                        'database was away: more than %(limit)d services '
                        'waited for it.',
                        {'dropped': dropped, 'limit': self.deferred.limit})

    def learn_registered(self):
        """Know every registered service now, instead of looking each up
        with the batch of its first report: after a restart in front of a
        full queue, heartbeats are counted from the first batch."""
        try:
            services = self.dbapi.service_get_known()
        except exception.SGConductorException as exc:
            LOG.warning('Could not read the registered services (%s); each '
                        'is looked up with its first report instead.', exc)
            return
        for service in services:
            self.heartbeats.remember(service)

    def _learn(self, reports, now):
        """Count the reports of services this writer has not written
        itself (another process registered them, or this one restarted)
        after looking them all up in one query; return the reports that
        still must be written through."""
        uuids = sorted({uuid for _, uuid in reports if uuid})
        if not uuids:
            return reports
        try:
            services = self.dbapi.service_get_by_uuids(uuids)
        except exception.SGConductorException:
            return reports  # written through, or refused, with the rest
        for service in services:
            self.heartbeats.remember(service)
        return [(values, uuid) for values, uuid in reports
                if not self.heartbeats.offer(values, uuid, now)]


def _log_created(created):
    """Log new services: one line each, or, for more than LOG_EACH
    written together (a fleet starting at once), one line for all."""
    many = len(created) > LOG_EACH
    if many:
        LOG.info('%(count)d new services registered, %(first)s to '
                 '%(last)s among them.',
                 {'count': len(created), 'first': _named(created[0]),
                  'last': _named(created[-1])})
    for values in created:
        LOG.log(logging.DEBUG if many else logging.INFO,
                'New service %(binary)s on %(host)s (version '
                '%(version)s) registered.', values)


def _named(values):
    return '%(binary)s on %(host)s' % values


def _dropped(values, error):
    """Count and log (at a bounded rate) a report that is lost; 1, to
    count it."""
    reason = (rejected.INVALID_REPORT
              if isinstance(error, exception.InvalidReport)
              else rejected.DATABASE)
    rejected.report(reason, '%s (a report of %s)' % (error, _named(values)))
    return 1
