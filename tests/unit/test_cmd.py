# SPDX-License-Identifier: Apache-2.0
"""The command-line tools, run in-process against the in-memory conductor."""

import json
import logging

import pytest

from sgconductor.cmd import api as api_cmd
from sgconductor.cmd import common
from sgconductor.cmd import compute
from sgconductor.cmd import conductor as conductor_cmd
from sgconductor.cmd import manage
from sgconductor.conductor import rpcapi as conductor_rpcapi
from tests.inprocess import report


@pytest.fixture(autouse=True)
def restore_logging():
    """Undo the handlers oslo.log installs on every in-process main().

    They hold the captured stderr of the test that ran main(); left in
    place, a later test's log records would be written to a closed file.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(main, argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def assert_one_line_error(err):
    assert len(err.strip().splitlines()) == 1, err
    assert 'Traceback' not in err


@pytest.mark.parametrize('main,argv', [
    (manage.main, ['--help']),
    (manage.main, ['db', '--help']),
    (manage.main, ['db', 'sync', '--help']),
    (manage.main, ['service', '--help']),
    (manage.main, ['service', 'list', '--help']),
    (manage.main, ['service', 'disable', '--help']),
    (manage.main, ['service', 'min-version', '--help']),
    (manage.main, ['service', 'purge', '--help']),
    (compute.main, ['--help']),
    (conductor_cmd.main, ['--help']),
    (api_cmd.main, ['--help']),
])
def test_every_command_has_help(capsys, main, argv):
    code, out, _ = run(main, argv, capsys)
    assert code == 0
    assert out.startswith('usage: ')


@pytest.mark.parametrize('main,argv', [
    (manage.main, []),
    (manage.main, ['service', 'frobnicate']),
    (manage.main, ['service', 'disable', 'only-host']),
    (manage.main, ['service', 'list', '--format', 'xml']),
    (compute.main, ['--fleet', '0']),
    (compute.main, ['--fleet', 'many']),
    (compute.main, ['--service-version', '-1']),
    (manage.main, ['service', 'list', '--down-for', 'a while']),
    (manage.main, ['service', 'list', '--down-for', '-5m']),
    (manage.main, ['service', 'list', '--down-for', '2w']),
])
def test_bad_arguments_get_one_line_and_exit_2(capsys, main, argv):
    code, _, err = run(main, argv, capsys)
    assert code == 2
    assert_one_line_error(err)
    assert '--help' in err


def test_bad_config_value_gets_one_line_and_exit_1(capsys, conf, tmp_path):
    path = tmp_path / 'bad.conf'
    path.write_text('[conductor]\nworkers = lots\n')
    code, _, err = run(manage.main, ['--config-file', str(path), 'service',
                                     'list'], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert '[conductor] workers' in err


def test_missing_config_file(capsys, conf, tmp_path):
    code, _, err = run(conductor_cmd.main, [
        '--config-file', str(tmp_path / 'nope.conf')], capsys)
    assert code == 1
    assert_one_line_error(err)


def test_conductor_refuses_an_unsynced_database(capsys, conf, tmp_path):
    conf.config(connection='sqlite:///%s' % (tmp_path / 'empty.sqlite'),
                group='database')
    code, _, err = run(conductor_cmd.main, [], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert 'sgconductor-manage db sync' in err


def test_no_conductor_exit_1_with_a_hint(capsys, db):
    code, _, err = run(manage.main, ['service', 'list'], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert 'sgconductor-conductor is running' in err


def test_service_list_table_and_json(capsys, rpcapi, ctxt):
    rpcapi.register_service(ctxt, report(host='cn1', version=4))
    code, out, _ = run(manage.main, ['service', 'list'], capsys)
    assert code == 0
    header = out.splitlines()[1]
    for column in ('Id', 'Binary', 'Host', 'Zone', 'Status', 'State',
                   'Updated At', 'Disabled Reason', 'Forced Down',
                   'Version', 'Last Seen Up'):
        assert column in header
    assert 'cn1' in out and ' up ' in out
    code, out, _ = run(manage.main, ['service', 'list', '--format', 'json',
                                     '--host', 'cn1'], capsys)
    (service,) = json.loads(out)
    assert {'id', 'uuid', 'binary', 'host', 'zone', 'status', 'state',
            'updated_at', 'last_seen_up', 'disabled_reason', 'forced_down',
            'version'} <= set(service)
    assert service['version'] == 4


def test_service_actions(capsys, rpcapi, ctxt):
    rpcapi.register_service(ctxt, report(host='cn1', version=4))
    rpcapi.register_service(ctxt, report(host='cn2', version=6))

    def service(host):
        # main() closes the process-wide transport, and with it the
        # fixture's client: ask through a new one.
        (found,) = conductor_rpcapi.ConductorAPI().service_get_all(
            ctxt, host=host)
        return found

    assert run(manage.main, ['service', 'disable', 'cn1', 'nova-compute',
                             '--reason', 'bad disk'], capsys)[0] == 0
    assert service('cn1')['disabled_reason'] == 'bad disk'
    assert run(manage.main, ['service', 'enable', 'cn1', 'nova-compute'],
               capsys)[0] == 0
    assert service('cn1')['status'] == 'enabled'
    assert run(manage.main, ['service', 'force-down', 'cn1',
                             'nova-compute'], capsys)[0] == 0
    assert service('cn1')['state'] == 'down'
    code, out, _ = run(manage.main, ['service', 'min-version', 'nova-compute',
                                     '--format', 'json'], capsys)
    assert json.loads(out) == {'nova-compute': 6}
    assert run(manage.main, ['service', 'force-up', 'cn1', 'nova-compute'],
               capsys)[0] == 0
    assert service('cn1')['state'] == 'up'
    code, out, _ = run(manage.main, ['service', 'max-version', 'nova-compute',
                                     'nova-api'], capsys)
    assert code == 0 and '6' in out and 'nova-api' in out
    assert run(manage.main, ['service', 'delete', 'cn1', 'nova-compute'],
               capsys)[0] == 0
    code, _, err = run(manage.main, ['service', 'delete', 'cn1',
                                     'nova-compute'], capsys)
    assert code == 2
    assert_one_line_error(err)
    assert 'could not be found' in err


def test_invalid_reason_is_refused_with_one_line(capsys, rpcapi, ctxt):
    rpcapi.register_service(ctxt, report(host='cn1'))
    code, _, err = run(manage.main, ['service', 'disable', 'cn1',
                                     'nova-compute', '--reason', 'x' * 300],
                       capsys)
    assert code == 1
    assert_one_line_error(err)
    assert 'disabled_reason' in err


@pytest.mark.parametrize('url', ['bogus://h/', 'rabbit://g:g@h:notaport/'])
def test_bad_transport_url_gets_one_line(capsys, conf, tmp_path, url):
    path = tmp_path / 'bad.conf'
    path.write_text('[DEFAULT]\ntransport_url = %s\n' % url)
    conf.conf.clear_override('transport_url')
    for main, argv in ((manage.main, ['service', 'list']),
                       (compute.main, []), (conductor_cmd.main, [])):
        code, _, err = run(main, ['--config-file', str(path)] + argv,
                           capsys)
        assert code == 1
        assert_one_line_error(err)
        assert '[DEFAULT] transport_url' in err


@pytest.mark.parametrize('argv,field', [
    (['--host', 'h' * 256], 'host'),
    (['--binary', ''], 'binary'),
    (['--host', 'cn1 '], 'host'),
])
def test_compute_refuses_a_report_the_conductor_would(capsys, conf, argv,
                                                      field):
    code, _, err = run(compute.main, argv, capsys)
    assert code == 1
    assert_one_line_error(err)
    assert field in err


def test_compute_refuses_tooz_without_a_backend(capsys, conf):
    conf.config(driver='tooz', group='servicegroup')
    code, _, err = run(compute.main, [], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert '[servicegroup] backend_url' in err


@pytest.mark.parametrize('text,seconds', [
    ('90', 90), ('90s', 90), ('15m', 900), ('2h', 7200), ('7d', 604800)])
def test_durations(text, seconds):
    assert common.duration(text) == seconds


def test_service_list_down_for(capsys, rpcapi, ctxt):
    rpcapi.register_service(ctxt, report(host='cn1'))
    rpcapi.service_update(ctxt, 'cn1', 'nova-compute', {'forced_down': True})
    rpcapi.register_service(ctxt, report(host='cn2'))
    code, out, _ = run(manage.main, ['service', 'list', '--down-for', '0s',
                                     '--format', 'json'], capsys)
    assert code == 0
    assert [s['host'] for s in json.loads(out)] == ['cn1']


@pytest.mark.parametrize('argv,needed', [
    (['service', 'list', '--down-for', '1h'], '1.1'),
    (['service', 'purge', '--down-for', '1h'], '1.2'),
])
def test_newer_commands_against_a_pinned_deployment_are_one_line(
        capsys, rpcapi, conf, argv, needed):
    conf.config(conductor='2026.2', group='upgrade_levels')
    code, _, err = run(manage.main, argv, capsys)
    assert code == 1
    assert_one_line_error(err)
    assert 'needs conductor RPC version %s' % needed in err
    assert 'Upgrade every conductor first' in err


def test_compute_older_than_supported_does_not_start(capsys, conf):
    code, _, err = run(compute.main, ['--service-version', '0'], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert 'older than the oldest this conductor serves' in err
