# SPDX-License-Identifier: Apache-2.0
"""A conductor that cannot write to its database disables itself.

nova-compute disables its own service, with a reason that starts with
``AUTO:``, when it loses its hypervisor, and enables it again once the
hypervisor is back, unless an operator disabled it meanwhile. A conductor
does the same with its own ``sgconductor-conductor`` row when it cannot
write to its database: it goes on running and reporting (through another
conductor, ``localapi.py``), so it is listed up, but disabled, with the
reason (``AUTO: cannot write to its database: ...``), in ``service
list``, the REST API, the ``service.update`` notification and /metrics.
It has stopped taking work meanwhile (``gate.py``). Once it can write
again it enables itself, unless an operator has changed the reason since.

While no conductor can write (the database is away for all of them),
disabling is retried at every look; the failures are logged once.
"""

from oslo_log import log as logging

from sgconductor import exception
from sgconductor import outage
from sgconductor.conductor import pinning

LOG = logging.getLogger(__name__)

# What a reason this module wrote starts with (nova-compute's too).
AUTO = 'AUTO: '


def _reason(error):
    """The disabled reason for ``error``: one printable line of at most
    255 characters, as every reason must be (``validation``)."""
    text = '%scannot write to its database: %s' % (
        AUTO, exception.first_line(error))
    return ''.join(c if c.isprintable() else ' ' for c in text)[:255].strip()


class AutoDisable:
    """Disables or enables the conductor row of ``host`` as this process
    can write to its database or not: through ``remote`` (a ConductorAPI,
    to another conductor) while it cannot, through ``manager`` once it
    can."""

    def __init__(self, manager, remote, host, unwritable):
        """``unwritable()``: why the database cannot be written, or None
        (``HeartbeatBuffer.unwritable``)."""
        self.manager = manager
        self.remote = remote
        self.host = host
        self.unwritable = unwritable
        # True once this conductor disabled itself, until it enabled
        # itself again.
        self.disabled = False
        self._others = outage.Outage('another conductor (to disable this '
                                     'one)')

    def look(self, ctxt):
        problem = self.unwritable()
        if problem is None:
            if self.disabled:
                self._enable(ctxt)
        elif not self.disabled:
            self._disable(ctxt, _reason(problem))

    def _disable(self, ctxt, reason):
        try:
            (row,) = self.remote.service_get_all(
                ctxt, host=self.host, binary=pinning.CONDUCTOR_BINARY) or [
                None]
            if row is None or (row['status'] == 'disabled'
                               and not (row['disabled_reason'] or '')
                               .startswith(AUTO)):
                # Not registered, or disabled by an operator: theirs.
                self.disabled = True
                return
            self.remote.service_update(
                ctxt, self.host, pinning.CONDUCTOR_BINARY,
                {'disabled': True, 'disabled_reason': reason})
        except exception.SGConductorException as exc:
            # A remote error's text carries the server's traceback.
            self._others.failed(exception.first_line(exc))
            return
        self._others.succeeded()
        self.disabled = True
        LOG.warning('Disabled this conductor (%s) while it cannot write to '
                    'its database.', reason)

    def _enable(self, ctxt):
        (row,) = self.manager.dbapi.service_get_all(
            host=self.host, binary=pinning.CONDUCTOR_BINARY) or [None]
        self.disabled = False
        if row is None or not (row.disabled and (row.disabled_reason or '')
                               .startswith(AUTO)):
            return
        self.manager.service_update(
            ctxt, host=self.host, binary=pinning.CONDUCTOR_BINARY,
            values={'disabled': False})
        LOG.info('Enabled this conductor again: it can write to its '
                 'database.')
