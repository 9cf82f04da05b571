# SPDX-License-Identifier: Apache-2.0
"""A process that lists services back to back through the conductor's
RPC API, for tests that must catch a state lasting a fraction of a
second: far denser than sgconductor-manage runs, each of which pays a
Python start-up."""

import json
import sys

from tests.functional import processes

# One JSON line per listing, from the moment the file "watch-now" appears
# next to the script.
WATCHER = """\
import json
import os
import time

from sgconductor import exception
from sgconductor.cmd import common
from sgconductor.conductor import rpcapi

GO = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'watch-now')
common.setup(common.make_parser('state-watcher', 'Lists services.'),
             quiet=True)
api = rpcapi.ConductorAPI()
ctxt = rpcapi.admin_context()
api.get_min_versions(ctxt, ['nova-compute'])  # connect, reply queue
print('ready', flush=True)
while not os.path.exists(GO):
    time.sleep(0.02)
while True:
    asked = time.time()
    try:
        rows = [[s['host'], s['state'], s['state_reason']]
                for s in api.service_get_all(ctxt, binary='nova-compute')]
    except exception.SGConductorException as exc:
        rows = exception.first_line(exc)
    print(json.dumps([asked, time.time(), rows]), flush=True)
    time.sleep(0.05)
"""
# Seconds the watcher gets to connect to the conductor.
WATCHER_READY_LIMIT = 30


class StateWatcher:
    """A process listing services back to back once told to (WATCHER)."""

    def __init__(self, deployment):
        self.deployment = deployment
        script = deployment.path('state_watcher.py')
        with open(script, 'w') as f:
            f.write(WATCHER)
        config = deployment.write_config('watcher.conf', {
            'DEFAULT': {'log_file': deployment.path('watcher.log')}})
        self.process = processes.Process(
            'watcher', [sys.executable, script, '--config-file',
                        deployment.config_file, '--config-file', config],
            deployment.workdir, log_file=deployment.path('watcher.log'))
        deployment.processes.append(self.process)

    def _output(self):
        with open(self.process.output_file, errors='replace') as f:
            return f.read().splitlines()

    def start(self):
        """Start it; return once it is connected, before it lists."""
        self.process.start()

        def ready():
            assert self.process.running(), (
                'the state watcher exited\n' + self.deployment.describe())
            return 'ready' in self._output()
        self.deployment.wait_for('the state watcher to connect', ready,
                                 WATCHER_READY_LIMIT, interval=0.1)

    def go(self):
        """Start listing now."""
        with open(self.deployment.path('watch-now'), 'w'):
            pass

    def stop(self):
        """Stop it; every listing it took, as (asked, answered, rows)
        with wall-clock times, rows as [host, state, reason] or the
        error text of a failed listing."""
        assert self.process.running(), (
            'the state watcher died\n' + self.deployment.describe())
        self.process.cleanup()
        return [json.loads(line) for line in self._output()
                if line.startswith('[')]
