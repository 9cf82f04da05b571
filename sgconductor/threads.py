# SPDX-License-Identifier: Apache-2.0
"""Background threads that run until asked to stop."""

import threading

from oslo_log import log as logging

from sgconductor import exception

LOG = logging.getLogger(__name__)


class Loop:
    """A daemon thread running ``body``, which must return soon after
    ``stopping`` is set. ``wake``, if given, is an Event the body sleeps
    on besides ``stopping``: stop() sets it too, so that the body notices
    at once instead of at the end of its sleep."""

    def __init__(self, name, body, wake=None):
        self.name = name
        self.body = body
        self.stopping = threading.Event()
        self._wake = wake
        self._thread = None

    @property
    def running(self):
        return self._thread is not None

    def start(self):
        self.stopping.clear()
        self._thread = threading.Thread(target=self.body, daemon=True,
                                        name=self.name)
        self._thread.start()

    def stop(self):
        """Ask the thread to end and wait for it; False if it was not
        running."""
        if self._thread is None:
            return False
        self.stopping.set()
        if self._wake is not None:
            self._wake.set()
        self._thread.join()
        self._thread = None
        return True


class Periodic(Loop):
    """Runs ``work()`` at once, then every ``interval`` seconds, until
    stopped. A failure is logged (``what`` names the work) and the next
    run comes on time: the thread never dies. An expected failure (the
    database away) is logged when it starts and when it ends, not at
    every run."""

    def __init__(self, name, interval, work, what):
        super().__init__(name, self._run)
        self.interval = interval
        self.work = work
        self.what = what
        self._failing = False

    def _run(self):
        while True:
            try:
                self.work()
            except exception.SGConductorException as exc:
                if not self._failing:
                    LOG.warning('Could not %s: %s', self.what, exc)
                self._failing = True
            except Exception:
                LOG.exception('Could not %s.', self.what)
            else:
                if self._failing:
                    LOG.info('Could %s again.', self.what)
                self._failing = False
            if self.stopping.wait(self.interval):
                return
