# SPDX-License-Identifier: Apache-2.0
"""Child processes for functional tests that never outlive their test.

Every child runs in its own session (so in its own process group): cleanup
signals the whole group, which also reaches the workers a cotyledon master
forked. A child that exited is left unreaped (``waitid(WNOWAIT)``) until its
group has been signalled, so its pid, and with it the group id, cannot be
reused by an unrelated process in between.
"""

import os
import signal
import subprocess
import sys
import time

# Seconds a process gets after SIGTERM during cleanup before SIGKILL.
CLEANUP_GRACE = 3


def console_script(name):
    """Path of console script ``name`` installed next to this Python."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.access(path, os.X_OK):
        raise AssertionError(
            '%s is not installed next to %s; install sgconductor into the '
            'environment that runs pytest (pip install -e .)'
            % (name, sys.executable))
    return path


def cleanup_all(children, grace=CLEANUP_GRACE):
    """Clean up many processes at once: one grace period for all."""
    for child in children:
        child.terminate()
    deadline = time.monotonic() + grace
    for child in children:
        child.cleanup(max(0.0, deadline - time.monotonic()))


# Characters of one line that failure reports show.
LINE_LIMIT = 1000


def tail(path, lines=60):
    """The last ``lines`` lines of a text file (each cut at LINE_LIMIT),
    or a note why there are none."""
    try:
        with open(path, errors='replace') as f:
            content = f.read().splitlines()
    except FileNotFoundError:
        return '(%s does not exist)' % path
    if not content:
        return '(%s is empty)' % path
    return '\n'.join(line if len(line) <= LINE_LIMIT
                     else line[:LINE_LIMIT] + ' [...]'
                     for line in content[-lines:])


class Process:
    """One long-running child: a conductor or a compute agent.

    Its stdout and stderr go to ``<workdir>/<name>.out``; ``log_file`` is
    where its configuration sends its log (shown by describe()).
    """

    def __init__(self, name, argv, workdir, log_file=None, env=None):
        self.name = name
        self.argv = list(argv)
        self.log_file = log_file
        self.output_file = os.path.join(str(workdir), '%s.out' % name)
        self.env = env
        self.popen = None
        self._exited = False
        self.stop_seconds = None

    @property
    def pid(self):
        return self.popen.pid

    def start(self):
        with open(self.output_file, 'ab') as output:
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True)
        return self

    def _has_exited(self):
        """True once the child exited (it stays a zombie until reaped)."""
        if self._exited or self.popen.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self.popen.pid,
                             os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        self._exited = info is not None
        return self._exited

    def running(self):
        return self.popen is not None and not self._has_exited()

    def _wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        while not self._has_exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def _signal_group(self, signum):
        try:
            os.killpg(self.popen.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def _reap(self):
        # The leader is gone: make sure nothing it started survives it.
        self._signal_group(signal.SIGKILL)
        return self.popen.wait()

    def send_signal(self, signum):
        """Signal the process itself (not its group)."""
        if not self._has_exited():
            self.popen.send_signal(signum)

    def kill(self, timeout):
        """SIGKILL the process and everything it started (a conductor's
        workers), as a crashed host would lose them; its status."""
        self._signal_group(signal.SIGKILL)
        status = self.wait(timeout)
        assert status is not None, '%s survived SIGKILL' % self.name
        return status

    def wait(self, timeout):
        """Wait up to ``timeout`` s for an exit; its status, else None."""
        if not self._wait_exit(timeout):
            return None
        return self._reap()

    def stop(self, timeout, signum=signal.SIGTERM):
        """Send ``signum`` and return the exit status.

        Fails (after killing the process) unless it exits within
        ``timeout`` seconds.
        """
        started = time.monotonic()
        self.send_signal(signum)
        status = self.wait(timeout)
        if status is None:
            self.cleanup()
            raise AssertionError(
                '%s (pid %s) did not exit within %s s of signal %s\n%s'
                % (self.name, self.pid, timeout, signum, self.describe()))
        self.stop_seconds = time.monotonic() - started
        return status

    def terminate(self):
        """Start cleaning up: SIGTERM the whole group (no wait)."""
        if self.popen is not None and not self._has_exited():
            self._signal_group(signal.SIGTERM)

    def cleanup(self, grace=CLEANUP_GRACE):
        """Terminate the whole group: SIGTERM, bounded wait, SIGKILL."""
        if self.popen is None or self.popen.returncode is not None:
            return
        self.terminate()
        if not self._wait_exit(grace):
            self._signal_group(signal.SIGKILL)
            self._wait_exit(CLEANUP_GRACE)
        self._reap()

    def describe(self, lines=60):
        """Status, output and log tail, for assertion messages."""
        if self.popen is None:
            state = 'not started'
        elif self.popen.returncode is not None:
            state = 'exited with status %s' % self.popen.returncode
        elif self._has_exited():
            state = 'exited'
        else:
            state = 'running as pid %s' % self.popen.pid
        parts = ['--- %s (%s): %s' % (self.name, ' '.join(self.argv), state),
                 '--- %s output:' % self.name, tail(self.output_file, lines)]
        if self.log_file:
            parts += ['--- %s log %s:' % (self.name, self.log_file),
                      tail(self.log_file, lines)]
        return '\n'.join(parts)
