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

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


def create_server(conductor=None, transport=None):
    """The conductor's RPC server, not yet started.

    ``conductor`` is its endpoint (by default a new ConductorManager,
    whose backend watch then starts with its first listing). ``transport``
    defaults to the process-wide one; an in-process conductor
    beside clients (tests, the demo) may want its own, so that a client
    closing the shared transport does not stop the conductor.
    """
    target = messaging.Target(topic=CONF.conductor.topic, server=CONF.host)
    return rpc.get_server(target, [conductor or manager.ConductorManager()],
                          transport)


class ConductorService(cotyledon.Service):
    name = 'sgconductor-conductor'

    def __init__(self, worker_id):
        super().__init__(worker_id)
        self.conductor = None
        self.server = None

    def run(self):
        self.conductor = manager.ConductorManager()
        self.conductor.init_host()
        self.server = create_server(self.conductor)
        self.server.start()
        LOG.info('Conductor worker %(worker)s consuming topic %(topic)s.',
                 {'worker': self.worker_id, 'topic': CONF.conductor.topic})

    def terminate(self):
        if self.server is not None:
            self.server.stop()
            self.server.wait()
        if self.conductor is not None:
            self.conductor.cleanup_host()
        rpc.cleanup()
        LOG.info('Conductor worker %s stopped.', self.worker_id)


def serve(workers):
    """Run the conductor until SIGTERM or SIGINT."""
    service_manager = cotyledon.ServiceManager()
    service_manager.add(ConductorService, workers=workers)
    service_manager.run()
