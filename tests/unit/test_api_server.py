# SPDX-License-Identifier: Apache-2.0
"""sgconductor-api as operators start it: the console script serving
standalone, and the WSGI entry point uWSGI imports. No conductor is
needed for what is checked here (the version documents, start-up
errors)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.functional import processes


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _config(tmp_path, **api):
    path = tmp_path / 'sgconductor.conf'
    path.write_text('[api]\n' + ''.join(
        '%s = %s\n' % item for item in api.items()))
    return str(path)


def _get(url, timeout=30):
    """The JSON at ``url``, retried until the server listens."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _serve(tmp_path):
    """sgconductor-api started on a free port (noauth); and the port."""
    port = _free_port()
    return processes.Process('api', [
        processes.console_script('sgconductor-api'), '--config-file',
        _config(tmp_path, auth_strategy='noauth', port=port)],
        tmp_path).start(), port


def test_serves_standalone_and_stops_on_sigterm(tmp_path):
    server, port = _serve(tmp_path)
    try:
        status, document = _get('http://127.0.0.1:%d/' % port)
        assert status == 200
        assert document['versions'][0]['id'] == 'v2.1'
        status, document = _get('http://127.0.0.1:%d/v2.2/' % port)
        assert (status, document['itemNotFound']['code']) == (404, 404)
        assert server.stop(timeout=10, signum=signal.SIGTERM) == 0
    finally:
        server.cleanup()
    with open(server.output_file) as output:
        log = output.read()
    assert '"GET / HTTP/1.1" 200' in log
    assert 'Traceback' not in log


def _start_error(tmp_path, **api):
    return subprocess.run(
        [processes.console_script('sgconductor-api'), '--config-file',
         _config(tmp_path, **api)],
        capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize('api,message', [
    ({'auth_strategy': 'http_basic'},
     '[oslo_middleware] http_basic_auth_user_file'),
    ({'auth_strategy': 'kerberos'}, '[api] auth_strategy'),
    ({'port': '99999'}, '[api] port'),
])
def test_unusable_configuration_is_one_line(tmp_path, api, message):
    result = _start_error(tmp_path, **api)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        result = _start_error(tmp_path, auth_strategy='noauth',
                              port=busy.getsockname()[1])
    assert result.returncode == 1
    assert 'Address already in use' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_wsgi_entry_point_reads_the_named_config(tmp_path):
    """What uWSGI does: import the module, call ``application``."""
    script = (
        'import webob\n'
        'from sgconductor.api.wsgi import application\n'
        'resp = webob.Request.blank("/v2.1/").get_response(application)\n'
        'print(resp.status_int, resp.json["version"]["id"])\n')
    result = subprocess.run(
        [sys.executable, '-c', script], capture_output=True, text=True,
        timeout=60, env=dict(os.environ, SGCONDUCTOR_CONFIG_FILES=_config(
            tmp_path, auth_strategy='noauth')))
    assert result.returncode == 0, result.stderr
    *log, printed = result.stdout.splitlines()
    assert printed.split() == ['200', 'v2.1']
    # The noauth warning: the named file was read.
    assert 'auth_strategy = noauth' in '\n'.join(log)


def test_a_body_shorter_than_its_content_length_gets_a_400(tmp_path):
    """Within a few seconds, as JSON, and with nothing logged at ERROR,
    rather than a 500 and a traceback once the connection times out."""
    server, port = _serve(tmp_path)
    try:
        _get('http://127.0.0.1:%d/' % port)
        with socket.create_connection(('127.0.0.1', port)) as sock:
            sock.settimeout(30)
            sock.sendall(b'PUT /v2.1/os-services/1 HTTP/1.1\r\n'
                         b'Host: 127.0.0.1\r\n'
                         b'Content-Type: application/json\r\n'
                         b'Content-Length: 100\r\n\r\n{"status": ')
            began = time.monotonic()
            answer = b''
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
            waited = time.monotonic() - began
        assert server.stop(timeout=10, signum=signal.SIGTERM) == 0
    finally:
        server.cleanup()
    head, _, body = answer.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.0 400'), answer
    assert json.loads(body)['badRequest']['message'] == (
        'The request body is shorter than its Content-Length.')
    assert waited < 15
    with open(server.output_file) as output:
        log = output.read()
    assert 'Traceback' not in log and ' ERROR ' not in log, log
