# SPDX-License-Identifier: Apache-2.0
"""The three-controller lab of ``tools/ha-lab.sh``: a RabbitMQ cluster, a
Galera cluster and a ZooKeeper ensemble, three nodes each, on 127.0.0.1
next to the single servers the other tests use. The tests start it (the
script does nothing when it already runs) and drive faults through the
script's node commands, each of which waits until its effect is real."""

import os
import subprocess

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'tools', 'ha-lab.sh')
NODES = (1, 2, 3)
BROKER_PORTS = {n: 5690 + n for n in NODES}
GALERA_PORTS = {n: 3320 + n for n in NODES}
ZOOKEEPER_URL = ('zookeeper://127.0.0.1:2191,127.0.0.1:2192,127.0.0.1:2193'
                 '?timeout=2')
# Seconds one command of the script may take (a start from nothing takes
# about 25 s, a Galera node rejoining about 10 s).
TIMEOUT = 300


def run(*args):
    """Run the script; its output. Fails (never skips) if it fails."""
    try:
        result = subprocess.run([SCRIPT] + list(args), capture_output=True,
                                text=True, timeout=TIMEOUT,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError('ha-lab.sh %s did not finish within %d s'
                             % (' '.join(args), TIMEOUT)) from exc
    if result.returncode != 0:
        pytest.fail('ha-lab.sh %s failed (exit %d): %s%s'
                    % (' '.join(args), result.returncode, result.stdout,
                       result.stderr), pytrace=False)
    return result.stdout


def start():
    run('start')


def transport_url(ports=None):
    """Every broker of the cluster (or of ``ports``), in node order."""
    return 'rabbit://%s/' % ','.join(
        'guest:guest@127.0.0.1:%d' % port
        for port in (ports or BROKER_PORTS.values()))


def galera_url(node, database='sgconductor_test'):
    return ('mysql+pymysql://sgconductor:sgconductor@127.0.0.1:%d/%s'
            '?charset=utf8mb4' % (GALERA_PORTS[node], database))


def node(action, kind, number):
    """``action`` (stop, kill, start) node ``number`` of ``kind``
    (rabbitmq, galera, zookeeper); returns once it took effect."""
    run('node-%s' % action, kind, str(number))


def leader(kind, *args):
    """The node leading the ZooKeeper ensemble, or (``kind`` rabbitmq,
    ``args`` a queue name) that quorum queue."""
    return int(run('leader', kind, *args).strip())
