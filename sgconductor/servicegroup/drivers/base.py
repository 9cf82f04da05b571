# SPDX-License-Identifier: Apache-2.0
"""What a servicegroup driver must provide."""

import abc
import collections

State = collections.namedtuple('State', ['up', 'reason'])
"""Whether a service is up (True, False, or None for unknown), and if not,
a short reason operators read."""

UP = State(True, None)


class Membership:
    """A reporter's presence in its driver's backend.

    The db driver needs none: the reports themselves are the presence.
    Drivers with a membership backend return their own subclass.
    """

    def is_member(self):
        """False once the backend no longer lists this service."""
        return True

    def join(self):
        """Become (again) a member of the service's group."""

    def leave(self):
        """Stop being a member and release the backend connection."""


class Driver(abc.ABC):
    """Judges liveness of services from what its backend knows.

    ``service_down_time`` is already clamped by the API facade;
    ``backend_url`` is the driver's backend, if it has one.
    """

    def __init__(self, service_down_time, backend_url=None):
        self.service_down_time = service_down_time
        self.backend_url = backend_url

    def check(self):  # noqa: B027 (no backend, nothing to check)
        """Raise if the driver's backend cannot be used (at start)."""

    def start(self):  # noqa: B027 (no backend, nothing to watch)
        """Conductor side: start watching the backend, if any."""

    def stop(self):  # noqa: B027 (no backend, nothing to release)
        """Conductor side: stop watching and release the backend."""

    def join(self, binary, host):
        """The Membership of a reporter of ``binary`` on ``host``."""
        return Membership()

    def remove(self, binary, host):  # noqa: B027 (nothing to remove)
        """Take a deleted service out of the backend (conductor side)."""

    @abc.abstractmethod
    def get_states(self, services, now, read_until):
        """Return one State per service, in order.

        ``services`` are rows of the services table that are not forced
        down; ``now`` is the conductor's current UTC time, ``read_until``
        (at most ``now``) the moment up to which the conductor has read
        every report (``models.ReportProgress``): a report sent after it
        may not be in ``services`` yet. Called once per listing so a
        driver can read its backend once for all services.
        """
