# SPDX-License-Identifier: Apache-2.0
"""sgconductor-demo as a user runs it: in a subprocess, output checked.

A subprocess keeps the demo's cfg.CONF overrides and logging setup out of
this test process. Each run takes about 10 s, mostly service_down_time.
"""

import os
import re
import sqlite3
import subprocess
import sys

import pytest

from sgconductor import demo
from sgconductor.cmd import demo as demo_cmd

# Far above the demo's own deadlines, so that the demo reports first.
TIMEOUT = 180


def run_demo(tmp_path, *args):
    env = dict(os.environ, HOME=str(tmp_path))  # no ~/.sgconductor
    return subprocess.run(
        [sys.executable, '-m', 'sgconductor.cmd.demo', *args],
        capture_output=True, text=True, timeout=TIMEOUT, env=env,
        cwd=str(tmp_path))


def steps(output):
    """Map step number to the output printed under its heading."""
    parts = re.split(r'^== Step (\d)/5: ', output, flags=re.MULTILINE)
    assert len(parts) == 11, output
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts), 2)}


def rows(section):
    """The service table of a step's output, as {host: {header: cell}}."""
    lines = [line for line in section.splitlines() if line.startswith('|')]
    header, *body = [[cell.strip() for cell in line.strip('|').split('|')]
                     for line in lines]
    return {row[header.index('Host')]: dict(zip(header, row, strict=True))
            for row in body}


@pytest.fixture(scope='module')
def embedded(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp('embedded'))


def test_embedded_run_exits_0_quietly(embedded):
    assert embedded.returncode == 0, embedded.stderr
    assert embedded.stderr == ''
    assert 'kombu+memory:////' in embedded.stdout
    assert re.search(r'^Done in \d+\.\d s\.$', embedded.stdout, re.MULTILINE)


def test_embedded_run_tells_the_story(embedded):
    out = steps(embedded.stdout)
    assert set(rows(out[1])) == {name for name, _, _ in demo.FLEET}
    assert {s['State'] for s in rows(out[1]).values()} == {'up'}
    assert 'minimum nova-compute version is 1' in out[1]

    assert rows(out[2])['compute-4']['State'] == 'down'
    assert rows(out[2])['compute-3']['State'] == 'up'

    assert 'minimum nova-compute version changed: 1 -> 2' in out[3]
    assert rows(out[3])['compute-1']['Version'] == '2'
    assert rows(out[3])['compute-1']['Id'] == '1'  # same row, upgraded

    disabled = rows(out[4])['compute-2']
    assert disabled['Status'] == 'disabled'
    assert disabled['Disabled Reason'] == 'disk replacement'
    assert disabled['State'] == 'up'

    final = rows(out[5])
    assert 'compute-4' not in final
    assert set(final) == {'compute-1', 'compute-2', 'compute-3',
                          'scheduler-1'}


def test_embedded_database_is_removed(embedded):
    path = re.search(r'database: +sqlite:///(\S+)', embedded.stdout).group(1)
    assert not os.path.exists(os.path.dirname(path))


def test_config_file_run_uses_its_database_and_a_demo_topic(tmp_path):
    database = tmp_path / 'sgconductor.sqlite'
    config = tmp_path / 'sgconductor.conf'
    config.write_text('[DEFAULT]\ntransport_url = kombu+memory:////\n'
                      '[database]\nconnection = sqlite:///%s\n' % database)
    result = run_demo(tmp_path, '--config-file', str(config))
    assert result.returncode == 0, result.stderr
    run_id = re.search(r'conductor topic: sgconductor-demo-([0-9a-f]{6})$',
                       result.stdout, re.MULTILINE).group(1)
    out = steps(result.stdout)
    prefix = 'demo-%s-' % run_id
    assert rows(out[2])[prefix + 'compute-4']['State'] == 'down'
    assert prefix + 'compute-4' not in rows(out[5])
    with sqlite3.connect(database) as connection:
        services = connection.execute(
            'SELECT host, deleted FROM services').fetchall()
    # Migrated, used, and every demo service deleted at the end.
    assert len(services) == len(demo.FLEET)
    assert all(host.startswith(prefix) and deleted
               for host, deleted in services)


def test_unreachable_broker_is_one_line_and_exit_1(tmp_path):
    config = tmp_path / 'sgconductor.conf'
    config.write_text('[DEFAULT]\ntransport_url = rabbit://u:secret@127.0.0.1:1/'
                      '\n[database]\nconnection = sqlite:///%s\n'
                      % (tmp_path / 'db.sqlite'))
    result = run_demo(tmp_path, '--config-file', str(config))
    assert result.returncode == 1
    assert result.stderr.startswith('sgconductor-demo: error: no RabbitMQ '
                                    'broker reachable')
    assert result.stderr.count('\n') == 1
    assert 'u:***@127.0.0.1:1' in result.stdout


def test_help_explains_both_modes():
    text = demo_cmd._parser().format_help()
    for expected in ('kombu+memory:////', '--config-file', '-demo-<id>',
                     'service_down_time'):
        assert expected in text


def test_poll_gives_up_with_a_step_timeout():
    with pytest.raises(demo.StepTimeout, match='waiting for nothing'):
        demo.poll('nothing', lambda: False, timeout=0.2)
    assert demo.poll('something', lambda: 42, timeout=0.2) == 42


@pytest.mark.parametrize('url,masked', [
    ('rabbit://u:p@h1:5672,v:q@h2:5672/', 'rabbit://u:***@h1:5672,v:***@h2'
                                          ':5672/'),
    ('mysql+pymysql://sg:pw@db/sg', 'mysql+pymysql://sg:***@db/sg'),
    ('kombu+memory:////', 'kombu+memory:////'),
    ('sqlite:////tmp/x.sqlite', 'sqlite:////tmp/x.sqlite'),
])
def test_mask_passwords(url, masked):
    assert demo.mask_passwords(url) == masked
