"""What a servicegroup driver must provide."""

import abc
import collections

State = collections.namedtuple('State', ['up', 'reason'])
"""Whether a service is up, and if not, a short reason operators read."""

UP = State(True, None)


class Driver(abc.ABC):
    """Judges liveness of services from what its backend knows.

    ``service_down_time`` is already clamped by the API facade.
    """

    def __init__(self, service_down_time):
        self.service_down_time = service_down_time

    @abc.abstractmethod
    def get_states(self, services, now):
        """Return one State per service, in order.

        ``services`` are rows of the services table that are not forced
        down; ``now`` is the conductor's current UTC time. Called once per
        listing so a driver can read its backend once for all services.
        """
