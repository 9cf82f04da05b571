# SPDX-License-Identifier: Apache-2.0
"""The one place that decides whether a service is up.

A service is up when it is not forced down and the configured driver
(``[servicegroup] driver``) says so. Every listing goes through
``API.get_states``.
"""

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils
from stevedore import driver as stevedore_driver

from sgconductor.servicegroup import legacy
from sgconductor.servicegroup.drivers import base

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

FORCED_DOWN = base.State(False, 'forced down')


def effective_service_down_time(conf=CONF):
    """service_down_time, raised to 2.5 x report_interval if too small.

    A service reporting every report_interval seconds must not be judged
    down between two reports, so the threshold has to exceed the interval.
    """
    down_time = conf.service_down_time
    if down_time <= conf.report_interval:
        new_down_time = int(conf.report_interval * 2.5)
        LOG.warning('service_down_time (%(down)s s) must be greater than '
                    'report_interval (%(interval)s s); using %(new)s s.',
                    {'down': down_time, 'interval': conf.report_interval,
                     'new': new_down_time})
        down_time = new_down_time
    return down_time


def judged_as_of(read_until, now):
    """The moment services are judged as of: the one before which every
    report is written (``dbapi.reports_judged_as_of()``, None if no
    intake has said yet), never later than ``now``."""
    return min(now, read_until or now)


class API:

    def __init__(self, conf=CONF):
        self.service_down_time = effective_service_down_time(conf)
        name, backend_url = legacy.resolve(conf, self.service_down_time)
        self.driver = stevedore_driver.DriverManager(
            'sgconductor.servicegroup.drivers', name, invoke_on_load=True,
            invoke_args=(self.service_down_time, backend_url)).driver

    def check(self):
        """Raise ConfigInvalid if the driver's backend cannot be used."""
        self.driver.check()

    def start(self):
        """Conductor side: watch the driver's backend from now on."""
        self.driver.start()

    def stop(self):
        """Conductor side: stop watching and release the backend."""
        self.driver.stop()

    def join(self, binary, host):
        """The reporter-side Membership of one service."""
        return self.driver.join(binary, host)

    def remove(self, binary, host):
        """Take a deleted service out of the driver's backend."""
        self.driver.remove(binary, host)

    def get_states(self, services, read_until=None):
        """One State per service; forced down wins over any driver.

        ``read_until``: the moment before which every report is written
        (``dbapi.reports_judged_as_of()``); None judges as of now.
        """
        now = timeutils.utcnow()
        read_until = judged_as_of(read_until, now)
        alive = [s for s in services if not s.forced_down]
        judged = iter(self.driver.get_states(alive, now, read_until))
        return [FORCED_DOWN if s.forced_down else next(judged)
                for s in services]
