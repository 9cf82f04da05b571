# SPDX-License-Identifier: Apache-2.0
"""/metrics: the services' state for Prometheus, in its text format.

Every scrape asks the conductor once (get_service_stats) and shows:

- ``sgconductor_services{binary, state}``: services up, down and unknown,
  judged as listings are; every state of a known binary is shown, zeros
  included, so that a series never vanishes;
- ``sgconductor_services_disabled{binary}``;
- ``sgconductor_reports_total``: heartbeats and registrations ever
  recorded (``rate()`` of it is the intake rate);
- the counts of the conductors' tallies (sgconductor/tally.py), by
  conductor host and reason: ``sgconductor_database_retries_total``,
  transactions the database refused for a deadlock or a Galera
  certification conflict and that were run again (db/conflicts.py), and
  ``sgconductor_rejected_messages_total``, messages and reports the
  conductor dropped or refused (conductor/rejected.py);
- ``sgconductor_report_lag_seconds``: how long ago the moment is up to
  which every report was read and written to the database, the moment
  services are judged as of (the heartbeat intake's flush lag); absent
  until an intake has said.

Authenticated like the API; policy rule ``sgconductor:metrics`` (readers).
"""

import webob
import webob.dec
from oslo_log import log as logging
from prometheus_client import core
from prometheus_client import exposition

from sgconductor import exception
from sgconductor.api import auth
from sgconductor.api import faults
from sgconductor.api import policy

LOG = logging.getLogger(__name__)

# The help of each tally's counter (sgconductor/tally.py).
COUNTER_HELP = {
    'database_retries': 'Transactions the database refused for a deadlock '
    'or a Galera certification conflict, run again, by conductor host.',
    'rejected_messages': 'Messages and reports the conductor dropped or '
    'refused, by conductor host and reason.',
}


def families(stats):
    """Prometheus metric families of a get_service_stats answer."""
    services = core.GaugeMetricFamily(
        'sgconductor_services', 'Services by binary and state (up, down, '
        'unknown), judged as listings judge them.',
        labels=['binary', 'state'])
    disabled = core.GaugeMetricFamily(
        'sgconductor_services_disabled', 'Disabled services by binary.',
        labels=['binary'])
    for binary, counts in sorted(stats['binaries'].items()):
        for state in ('up', 'down', 'unknown'):
            services.add_metric([binary, state], counts[state])
        disabled.add_metric([binary], counts['disabled'])
    found = [services, disabled, core.CounterMetricFamily(
        'sgconductor_reports', 'Heartbeats and registrations the '
        'conductor recorded, deleted services included.',
        value=stats['reports'])]
    for name, by_host in sorted(stats.get('counters', {}).items()):
        counter = core.CounterMetricFamily(
            'sgconductor_' + name, COUNTER_HELP.get(name, name),
            labels=['host', 'reason'])
        for host, by_reason in sorted(by_host.items()):
            for reason, count in sorted(by_reason.items()):
                counter.add_metric([host, reason], count)
        found.append(counter)
    if stats['report_lag'] is not None:
        found.append(core.GaugeMetricFamily(
            'sgconductor_report_lag_seconds', 'Seconds since the moment up '
            'to which every report was read and written: services are '
            'judged as of then (heartbeat flush lag).',
            value=stats['report_lag']))
    return found


class _Snapshot:
    """A collector of families already built (one scrape's)."""

    def __init__(self, found):
        self.found = found

    def collect(self):
        return self.found


def render(stats):
    """The text exposition of a get_service_stats answer."""
    registry = core.CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families(stats)))
    return exposition.generate_latest(registry)


class Metrics:
    """The /metrics WSGI application (behind authentication)."""

    def __init__(self, rpcapi, rules):
        self.rpcapi = rpcapi
        self.rules = rules

    @webob.dec.wsgify
    def __call__(self, req):
        if req.method not in ('GET', 'HEAD'):
            return faults.not_allowed(req.method, ('GET', 'HEAD')).response()
        try:
            context = req.environ[auth.CONTEXT_KEY]
            self.rules.authorize(context, policy.METRICS)
            stats = self.rpcapi.get_service_stats(context)
        except faults.Fault as fault:
            return fault.response()
        except exception.SGConductorException as error:
            # Any other conductor failure is an outage to Prometheus.
            fault = faults.for_error(error) or faults.Fault(
                503, exception.first_line(error))
            if fault.code == 503:
                LOG.warning('Cannot serve /metrics: %s',
                            exception.first_line(error))
            return fault.response()
        # The classic text format, which every Prometheus reads.
        return webob.Response(body=render(stats), headerlist=[
            ('Content-Type', exposition.CONTENT_TYPE_PLAIN_0_0_4)])
