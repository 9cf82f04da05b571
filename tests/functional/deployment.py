# SPDX-License-Identifier: Apache-2.0
"""One test's sgconductor deployment: config files, processes and the CLI.

Each deployment has its own conductor topic and control exchange, so tests
never see each other's messages, and auto-deleted queues and exchanges, so
nothing piles up on the broker. Every process logs to its own file in the
test's tmp_path. Processes started here are always cleaned up.
"""

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.parse
import urllib.request
import uuid

import amqp
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslo_messaging import conffixture as messaging_fixture

from sgconductor import rpc
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.conductor import versioncache
from tests.functional import databases
from tests.functional import processes

TRANSPORT_URL = (os.environ.get('SGCONDUCTOR_TEST_TRANSPORT_URL')
                 or 'rabbit://guest:guest@127.0.0.1:5672/')

REPORT_INTERVAL = 1
# What sgconductor-compute reports unless given --binary.
COMPUTE_BINARY = 'nova-compute'
SERVICE_DOWN_TIME = 3
CALL_TIMEOUT = 5

# Upper bound for one sgconductor-manage run (start-up, plus a call that
# may time out).
MANAGE_TIMEOUT = CALL_TIMEOUT + 25
# Seconds a conductor may take from start to consuming its topic.
CONDUCTOR_START_TIMEOUT = 30
# ... and from SIGTERM to its exit.
CONDUCTOR_STOP_TIMEOUT = 15

CONDUCTOR_READY = 'consuming topic'
# Seconds sgconductor-api may take from start to serving.
API_START_TIMEOUT = 30


def amqp_connections(transport_url):
    """An unopened amqp.Connection to each broker of a rabbit://
    transport URL, in order."""
    url = urllib.parse.urlsplit(transport_url)
    connections = []
    for broker in url.netloc.split(','):
        host = urllib.parse.urlsplit('//' + broker)
        connections.append(amqp.Connection(
            host='%s:%s' % (host.hostname, host.port or 5672),
            userid=urllib.parse.unquote(host.username or 'guest'),
            password=urllib.parse.unquote(host.password or 'guest'),
            virtual_host=urllib.parse.unquote(url.path[1:] or '/'),
            connect_timeout=2))
    return connections


def amqp_connection(transport_url):
    """An unopened amqp.Connection to the first broker of a rabbit://
    transport URL."""
    return amqp_connections(transport_url)[0]


def broker_problem(transport_url=TRANSPORT_URL):
    """None if the broker accepts an AMQP login, else why not."""
    conn = amqp_connection(transport_url)
    try:
        conn.connect()
    except (OSError, amqp.AMQPError) as exc:
        return '%s: %s' % (type(exc).__name__, exc)
    conn.close()
    return None


def _ini(sections):
    lines = []
    for section, options in sections.items():
        lines.append('[%s]' % section)
        lines += ['%s = %s' % item for item in options.items()]
        lines.append('')
    return '\n'.join(lines)


def one_line(text):
    """The only line of ``text``; fails unless there is exactly one."""
    lines = text.splitlines()
    assert len(lines) == 1, 'expected one line, got %d:\n%s' % (
        len(lines), text)
    return lines[0]


class Deployment:

    def __init__(self, workdir, db_url=None, transport_url=TRANSPORT_URL,
                 servicegroup=None, service_down_time=SERVICE_DOWN_TIME,
                 report_interval=REPORT_INTERVAL, sections=None):
        """``sections`` ({section: {option: value}}) add to the
        configuration every process and command shares."""
        self.workdir = str(workdir)
        self.db_url = db_url
        self.topic = 'sgfunc-' + uuid.uuid4().hex
        self.transport_url = transport_url
        self.processes = []
        self.conductor = None
        # Where the running conductor's lines start in its log, which a
        # restarted conductor appends to.
        self._conductor_log_start = 0
        shared = {
            'DEFAULT': {
                'transport_url': transport_url,
                'control_exchange': self.topic,
                'report_interval': report_interval,
                'service_down_time': service_down_time,
                'log_file': self.path('manage.log'),
            },
            'conductor': {'topic': self.topic,
                          'call_timeout': CALL_TIMEOUT},
            # Reply queues of finished CLI runs expire after a minute
            # instead of oslo.messaging's default half hour.
            'oslo_messaging_rabbit': {'amqp_auto_delete': 'true',
                                      'rabbit_transient_queues_ttl': 60},
            'database': ({'connection': db_url.render_as_string(
                hide_password=False)} if db_url is not None else {}),
            'servicegroup': servicegroup or {},
        }
        self._shared = shared
        self.config_file = None
        self.reconfigure(sections or {})

    def reconfigure(self, sections):
        """Add ``sections`` ({section: {option: value}}) to the
        configuration every process and command started from now on
        shares."""
        for section, options in sections.items():
            self._shared.setdefault(section, {}).update(options)
        self.config_file = self.write_config('sgconductor.conf',
                                             self._shared)

    def path(self, name):
        return os.path.join(self.workdir, name)

    def write_config(self, name, sections):
        path = self.path(name)
        with open(path, 'w') as f:
            f.write(_ini(sections))
        return path

    # --- sgconductor-manage

    def manage(self, *args, timeout=MANAGE_TIMEOUT,
               script='sgconductor-manage', config=None):
        """Run sgconductor-manage (or another command, ``script``), with
        the shared configuration and ``config`` (a file of
        write_config()'s) if given; returns the CompletedProcess."""
        argv = [processes.console_script(script),
                '--config-file', self.config_file]
        if config is not None:
            argv += ['--config-file', config]
        argv += list(args)
        try:
            return subprocess.run(argv, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError('%s did not finish within %s s\n%s'
                                 % (' '.join(args), timeout,
                                    self.describe())) from exc

    def manage_ok(self, *args):
        """Run sgconductor-manage, fail unless it succeeds; its stdout."""
        result = self.manage(*args)
        assert result.returncode == 0, (
            'sgconductor-manage %s exited %s\nstdout: %s\nstderr: %s\n%s'
            % (' '.join(args), result.returncode, result.stdout,
               result.stderr, self.describe()))
        return result.stdout

    def manage_json(self, *args):
        return json.loads(self.manage_ok(*args, '--format', 'json'))

    def db_sync(self):
        return self.manage_ok('db', 'sync')

    def services(self, binary=COMPUTE_BINARY, **filters):
        """``service list`` as a list of dicts: the computes' by default
        (the conductor lists itself too); ``binary=None`` for all."""
        args = ['service', 'list']
        for key, value in dict(filters, binary=binary).items():
            if value is not None:
                args += ['--%s' % key.replace('_', '-'), value]
        return self.manage_json(*args)

    def service_map(self):
        """The computes' ``service list`` as {host: service}."""
        return {s['host']: s for s in self.services()}

    # --- polling

    def wait_for(self, what, check, timeout, interval=0.3):
        """Poll ``check()`` until it returns a true value; return that.

        Fails after ``timeout`` seconds with the last value seen and the
        processes' logs.
        """
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = check()
            if last:
                return last
            if time.monotonic() >= deadline:
                raise AssertionError(
                    'timed out after %s s waiting for %s; last seen: %r\n%s'
                    % (timeout, what, last, self.describe()))
            time.sleep(interval)

    def wait_for_services(self, what, predicate, timeout):
        """Poll ``service list`` until ``predicate({host: service})``."""
        def check():
            services = self.service_map()
            return services if predicate(services) else None
        return self.wait_for(what, check, timeout)

    # --- processes

    def _start(self, name, script, args=(), sections=None, wrapper=(),
               command=None):
        """Start ``script`` as ``name``; ``sections`` ({section: {option:
        value}}) override the shared configuration for this process only;
        ``wrapper``, a command that runs it (faketime, say); ``command``,
        what to run instead of the installed ``script`` (a list).
        """
        process_sections = {'DEFAULT': {}}
        for section, options in (sections or {}).items():
            process_sections.setdefault(section, {}).update(options)
        process_sections['DEFAULT']['log_file'] = self.path('%s.log' % name)
        config = self.write_config('%s.conf' % name, process_sections)
        process = processes.Process(
            name, list(wrapper) + (command or [
                processes.console_script(script)]) + [
                '--config-file', self.config_file,
                '--config-file', config] + list(args),
            self.workdir, log_file=self.path('%s.log' % name))
        self.processes.append(process)
        return process.start()

    def start_conductor(self, wait=True, sections=None):
        """Start sgconductor-conductor; by default wait until it consumes.

        Casts to a queue nobody declared yet are dropped, so tests that
        send anything wait for the conductor's "consuming topic" log line
        and then for a successful ``service list``. One conductor runs at
        a time; stop_conductor() lets another one start.
        """
        assert self.conductor is None, 'one conductor at a time'
        self._conductor_log_start = len(self.read_log('conductor'))
        self.conductor = self._start('conductor', 'sgconductor-conductor',
                                     sections=sections)
        if wait:
            self.wait_for_conductor()
        return self.conductor

    def wait_for_conductor(self):
        def consuming():
            if not self.conductor.running():
                raise AssertionError('the conductor exited during start-up\n'
                                     + self.describe())
            log = self.read_log('conductor')[self._conductor_log_start:]
            return CONDUCTOR_READY in log
        self.wait_for('the conductor to consume its topic', consuming,
                      CONDUCTOR_START_TIMEOUT, interval=0.1)
        self.services()

    def stop_conductor(self, timeout=CONDUCTOR_STOP_TIMEOUT):
        """SIGTERM the conductor; fail unless it exits cleanly in time."""
        status = self.conductor.stop(timeout)
        assert status == 0, 'the conductor exited with status %s\n%s' % (
            status, self.describe())
        self.conductor = None

    def start_compute(self, name, *args, sections=None, wrapper=(),
                      command=None):
        return self._start('compute-%s' % name, 'sgconductor-compute', args,
                           sections=sections, wrapper=wrapper,
                           command=command)

    def start_command(self, name, command, sections=None):
        """Start ``command`` (a list) as ``name`` with the configuration
        files every process gets."""
        return self._start(name, None, sections=sections, command=command)

    def start_api(self, sections=None):
        """Start sgconductor-api on a free port and wait until it serves
        the version document; returns its /v2.1 endpoint."""
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        api_sections = dict(sections or {})
        api_sections['api'] = dict(api_sections.get('api', {}), port=port)
        process = self._start('api', 'sgconductor-api',
                              sections=api_sections)
        endpoint = 'http://127.0.0.1:%d/v2.1' % port

        def serving():
            if not process.running():
                raise AssertionError('sgconductor-api exited during '
                                     'start-up\n' + self.describe())
            try:
                with urllib.request.urlopen(endpoint + '/', timeout=5):
                    return True
            except OSError:
                return False
        self.wait_for('sgconductor-api to serve', serving,
                      API_START_TIMEOUT, interval=0.1)
        return endpoint

    def read_log(self, name):
        try:
            with open(self.path('%s.log' % name), errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def describe(self, lines=60):
        """Every process's status and log tail, for failure messages."""
        parts = [p.describe(lines) for p in self.processes]
        parts.append('--- sgconductor-manage log:\n'
                     + processes.tail(self.path('manage.log'), 20))
        if self.db_url is not None:
            parts.append('--- database: %s'
                         % databases.safe_url(self.db_url))
        return '\n'.join(parts)

    def cleanup(self):
        processes.cleanup_all(self.processes)
        self._delete_leftovers()

    def _leftovers(self):
        """(queues, exchanges) this deployment's processes may declare.

        Most are auto-deleted, but not in a test that turns
        amqp_auto_delete off; and an exchange that only ever saw a
        publisher (a CLI with no conductor), or a fanout one, stays.
        """
        topic = self.topic
        host = socket.gethostname()
        queues = [topic, '%s.%s' % (topic, host),
                  conductor_rpcapi.reports_topic(topic),
                  conductor_rpcapi.versions_topic(topic),
                  conductor_rpcapi.registrations_topic(topic),
                  '%s-notifications.info' % topic,
                  '%s-notifications.warn' % topic]
        exchanges = [topic, '%s_fanout' % topic, '%s_fanout'
                     % versioncache.announcements_topic(topic)]
        return queues, exchanges

    def _delete_leftovers(self):
        """Delete this deployment's queues and exchanges: its processes
        are gone (a fanout queue they leave expires by itself, after
        rabbit_transient_queues_ttl)."""
        for conn in amqp_connections(self.transport_url):
            try:
                conn.connect()
                break
            except (OSError, amqp.AMQPError):
                continue
        else:
            return  # no broker there: nothing was declared either
        queues, exchanges = self._leftovers()
        try:
            channel = conn.channel()
            for queue in queues:
                channel.queue_delete(queue)
            for exchange in exchanges:
                channel.exchange_delete(exchange)
            conn.close()
        except (OSError, amqp.AMQPError):
            conn.collect()


@contextlib.contextmanager
def configured_client(deployment, rabbit=None):
    """cfg.CONF configured as the deployment's clients are (and with
    ``rabbit``, {option: value} of [oslo_messaging_rabbit]), and a
    ConductorAPI on it; undone afterwards."""
    conf = cfg.CONF
    fixture = config_fixture.Config(conf)
    fixture.setUp()
    messaging_conf = messaging_fixture.ConfFixture(conf)
    messaging_conf.setUp()
    try:
        conf([], project='sgconductor', default_config_files=[])
        messaging_conf.transport_url = deployment.transport_url
        fixture.config(control_exchange=deployment.topic)
        fixture.config(topic=deployment.topic, group='conductor')
        for option, value in dict({'amqp_auto_delete': True},
                                  **(rabbit or {})).items():
            fixture.config(group='oslo_messaging_rabbit', **{option: value})
        yield conductor_rpcapi.ConductorAPI()
    finally:
        rpc.cleanup()
        messaging_conf.cleanUp()
        fixture.cleanUp()
