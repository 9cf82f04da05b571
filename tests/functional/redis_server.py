# SPDX-License-Identifier: Apache-2.0
"""A private Redis server for one test, to kill and start again at will.

Tests that take the liveness backend away use one of these instead of the
shared Redis that tools/test-setup.sh starts, so other tests never notice.
It listens on a free port of 127.0.0.1 and persists nothing: started again
on the same port after a kill, it is empty, as a Redis without persistence
comes back in production.
"""

import shutil
import signal
import socket
import time

import redis
from redis import backoff
from redis import retry

from tests.functional import processes

# Seconds a started redis-server gets to answer PING.
START_TIMEOUT = 10
# Seconds a SIGKILLed redis-server gets to be gone.
KILL_TIMEOUT = 10


class Unavailable(Exception):
    """No private redis-server could be started; the message is one line."""


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class RedisServer:
    """redis-server on its own port; ``start()`` it (again) and ``kill()``
    it. Each start is a new processes.Process, logging to
    ``<workdir>/redis-<n>.out``."""

    def __init__(self, workdir, port=None):
        self.binary = shutil.which('redis-server')
        if self.binary is None:
            raise Unavailable('redis-server is not installed (not on PATH); '
                              'install it, e.g. apt-get install redis-server')
        self.workdir = str(workdir)
        self.port = port or free_port()
        self.process = None
        self.starts = 0

    def url(self, timeout=2):
        """The tooz backend URL of this server."""
        return 'redis://127.0.0.1:%d?timeout=%s' % (self.port, timeout)

    def client(self):
        """A client that tries each command once (redis-py retries for
        seconds by default)."""
        return redis.Redis(host='127.0.0.1', port=self.port,
                           socket_connect_timeout=1, socket_timeout=1,
                           retry=retry.Retry(backoff.NoBackoff(), 0))

    def start(self):
        """Start redis-server and wait until it answers; the Process."""
        assert self.process is None or not self.process.running(), (
            'redis-server on port %d is already running' % self.port)
        self.starts += 1
        self.process = processes.Process(
            'redis-%d' % self.starts,
            [self.binary, '--port', str(self.port), '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no', '--dir', self.workdir],
            self.workdir)
        self.process.start()
        try:
            self._wait_ready()
        except Unavailable:
            self.process.cleanup()
            raise
        return self.process

    def _wait_ready(self):
        client = self.client()
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                if not self.process.running():
                    output = processes.tail(self.process.output_file, 2)
                    raise Unavailable(
                        'redis-server on port %d exited at start: %s'
                        % (self.port, ' '.join(output.split())))
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() >= deadline:
                    raise Unavailable(
                        'redis-server on port %d did not answer PING '
                        'within %d s' % (self.port, START_TIMEOUT))
                time.sleep(0.1)
        finally:
            client.close()

    def kill(self):
        """SIGKILL the server and wait until it is gone."""
        self.process.send_signal(signal.SIGKILL)
        status = self.process.wait(KILL_TIMEOUT)
        assert status == -signal.SIGKILL, (
            'redis-server did not die of SIGKILL (status %r)\n%s'
            % (status, self.process.describe()))

    def cleanup(self):
        if self.process is not None:
            self.process.cleanup()
