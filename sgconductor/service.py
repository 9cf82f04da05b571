"""The conductor as a process: cotyledon workers running the RPC server.

cotyledon forks ``[conductor] workers`` processes that each consume the
conductor topic, restarts a worker that dies, and turns SIGTERM into a
clean stop: the RPC server stops taking messages and finishes the ones in
flight before the process exits.
"""

import cotyledon
import oslo_messaging as messaging
from oslo_config import cfg
from oslo_log import log as logging

from sgconductor import rpc
from sgconductor.conductor import manager
from sgconductor.conductor import rpcapi

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class Conductor:
    """One conductor: its endpoint and RPC servers, started and stopped
    together. One server consumes the conductor topic, another the topic
    heartbeats are cast to, each with its own thread pool (see
    rpcapi.reports_topic).

    ``transport`` defaults to the process-wide one; an in-process conductor
    beside clients (tests, the demo) may want its own, so that a client
    closing the shared transport does not stop the conductor.
    """

    def __init__(self, transport=None):
        self.manager = manager.ConductorManager()
        self.servers = [
            rpc.get_server(messaging.Target(topic=topic, server=CONF.host),
                           [self.manager], transport)
            # Reports first: a reporter's first call must find their
            # queue declared, or its casts would be dropped.
            for topic in (rpcapi.reports_topic(CONF.conductor.topic),
                          CONF.conductor.topic)]

    def start(self):
        self.manager.init_host()
        for server in self.servers:
            server.start()

    def stop(self):
        """Finish the messages in flight, then write the last heartbeats."""
        for server in self.servers:
            server.stop()
        for server in self.servers:
            server.wait()
        self.manager.cleanup_host()


class ConductorService(cotyledon.Service):
    name = 'sgconductor-conductor'

    def __init__(self, worker_id):
        super().__init__(worker_id)
        self.conductor = None

    def run(self):
        self.conductor = Conductor()
        self.conductor.start()
        LOG.info('Conductor worker %(worker)s consuming topic %(topic)s.',
                 {'worker': self.worker_id, 'topic': CONF.conductor.topic})

    def terminate(self):
        if self.conductor is not None:
            self.conductor.stop()
        rpc.cleanup()
        LOG.info('Conductor worker %s stopped.', self.worker_id)


def serve(workers):
    """Run the conductor until SIGTERM or SIGINT."""
    service_manager = cotyledon.ServiceManager()
    service_manager.add(ConductorService, workers=workers)
    service_manager.run()
