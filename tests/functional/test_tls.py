# SPDX-License-Identifier: Apache-2.0
"""RabbitMQ over TLS, with a self-signed certificate.

stunnel (Debian's stunnel4, installed by tools/test-setup.sh) terminates
TLS in front of the broker with a certificate made for this test, and
every process of the deployment, the CLI included, reaches the broker
only through it, with ``[oslo_messaging_rabbit] ssl`` and
``ssl_ca_file``: oslo.messaging's connections and the conductor's own
kombu ones (heartbeat intake, marks, version server) alike. A client
that does not trust the certificate is refused with one line.
"""

import shutil
import socket
import subprocess
import time

import pytest

from tests.functional import deployment as sg_deployment
from tests.functional import processes
from tests.functional import tcp_proxy

START_LIMIT = 30
# stunnel logs each connection it accepted, and then the TLS it spoke.
ACCEPTED = 'accepted connection from'


def self_signed(directory, name):
    """A certificate for 127.0.0.1 and its key, as (cert, key) paths."""
    cert, key = directory / (name + '.pem'), directory / (name + '.key')
    subprocess.run(
        ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
         '-keyout', str(key), '-out', str(cert), '-days', '1',
         '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
        check=True, capture_output=True)
    return str(cert), str(key)


class TlsBroker:
    """stunnel on a free port, forwarding to the broker."""

    def __init__(self, directory):
        binary = shutil.which('stunnel4') or shutil.which('stunnel')
        if binary is None:
            pytest.fail('stunnel is not installed: run tools/test-setup.sh',
                        pytrace=False)
        self.cert, key = self_signed(directory, 'broker')
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            self.port = sock.getsockname()[1]
        upstream = tcp_proxy.server_address(sg_deployment.TRANSPORT_URL,
                                            5672)
        self.log = str(directory / 'stunnel.log')
        config = directory / 'stunnel.conf'
        config.write_text('\n'.join([
            'foreground = yes', 'pid =', 'debug = info',
            'output = %s' % self.log, '[amqps]',
            'accept = 127.0.0.1:%d' % self.port,
            'connect = %s:%d' % upstream,
            'cert = %s' % self.cert, 'key = %s' % key, '']))
        self.process = processes.Process('stunnel', [binary, str(config)],
                                         directory, log_file=self.log)

    def start(self):
        self.process.start()
        deadline = time.monotonic() + START_LIMIT
        while True:
            try:
                socket.create_connection(('127.0.0.1', self.port), 1).close()
                return
            except OSError:
                assert self.process.running(), self.process.describe()
                assert time.monotonic() < deadline, self.process.describe()
                time.sleep(0.1)

    def url(self):
        return tcp_proxy.local_url(sg_deployment.TRANSPORT_URL, self.port)

    def accepted(self):
        with open(self.log, errors='replace') as f:
            return f.read().count(ACCEPTED)


@pytest.fixture
def backend():
    return 'postgresql'


@pytest.fixture
def tls_broker(broker, tmp_path):
    server = TlsBroker(tmp_path)
    server.start()
    yield server
    server.process.cleanup()


@pytest.fixture
def tls_deployment(request, database, tls_broker, tmp_path):
    deployment = sg_deployment.Deployment(
        tmp_path, database, transport_url=tls_broker.url(),
        sections={'oslo_messaging_rabbit': {
            'ssl': 'true', 'ssl_ca_file': tls_broker.cert}})
    deployment.processes.append(tls_broker.process)
    request.node.sg_deployment = deployment
    deployment.db_sync()
    yield deployment
    deployment.cleanup()


def test_every_process_reaches_the_broker_over_tls(tls_deployment,
                                                   tls_broker, tmp_path):
    d = tls_deployment
    d.start_conductor()
    d.start_compute('cn1', '--host', 'cn1')
    services = d.wait_for_services(
        'the compute up over TLS',
        lambda s: s.get('cn1', {}).get('state') == 'up', START_LIMIT)
    assert services['cn1']['report_count'] >= 1
    # Every connection went through stunnel: the conductor's, the
    # compute's and each CLI run's.
    print('%d TLS connections' % tls_broker.accepted())
    assert tls_broker.accepted() >= 4

    # A client that does not trust the broker's certificate.
    other_ca, _ = self_signed(tmp_path, 'other')
    untrusting = d.write_config('untrusting.conf', {
        'oslo_messaging_rabbit': {'ssl_ca_file': other_ca}})
    result = d.manage('service', 'list', config=untrusting)
    assert result.returncode != 0, result.stdout
    line = sg_deployment.one_line(result.stderr)
    print(line)
    assert 'CERTIFICATE_VERIFY_FAILED' in line or 'certificate' in line, line
