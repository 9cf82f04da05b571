# SPDX-License-Identifier: Apache-2.0
"""sgconductor-api in this process: the WSGI application in front of a real
conductor (SQLite, in-memory transport), driven with webob requests."""

import base64
import functools
import json
import os
import sys
import uuid

import bcrypt
import pytest
import webob
from prometheus_client.parser import text_string_to_metric_families

from sgconductor import exception
from sgconductor.api import app as api_app
from sgconductor.api import microversion
from sgconductor.conductor import rejected
from sgconductor.conductor import rpcapi as conductor_rpcapi
from sgconductor.db import conflicts
from tests.inprocess import last_seen
from tests.inprocess import report
from tests.inprocess import stored
from tests.unit.test_manager import wait_for

COMPUTE = 'nova-compute'
MISSING_UUID = '00000000-0000-4000-8000-000000000000'


def request(app, method, path, body=None, version=None, headers=None,
            raw=None):
    req = webob.Request.blank(path, method=method, headers=headers or {})
    if body is not None:
        req.json_body = body
    if raw is not None:
        req.body = raw
    if version is not None:
        req.headers['OpenStack-API-Version'] = 'compute %s' % version
    return req.get_response(app)


def fault(resp, code):
    """The message of Nova's error body ``resp`` carries for ``code``."""
    assert resp.status_int == code, resp.body
    (name, detail), = resp.json.items()
    assert detail['code'] == code
    return detail['message']


@pytest.fixture
def cloud(conf, rpcapi, ctxt):
    """Three computes registered; the API without authentication."""
    conf.config(auth_strategy='noauth', group='api')
    for host in ('cn1', 'cn2', 'cn3'):
        rpcapi.register_service(ctxt, report(host))
    rpcapi.register_service(ctxt, report('sched1', binary='nova-scheduler'))
    return api_app.build_app(rpcapi)


@pytest.fixture
def rows(rpcapi, ctxt):
    """Reads what the services hold (tests.inprocess.stored)."""
    return functools.partial(stored, rpcapi, ctxt)


def _services(app, version=None, query=''):
    resp = request(app, 'GET', '/v2.1/os-services' + query, version=version)
    assert resp.status_int == 200, resp.body
    return resp.json['services']


def _by_host(app, version='2.53'):
    return {s['host']: s for s in _services(app, version)}


def test_version_documents_are_public_and_name_the_range(conf, rpcapi):
    conf.config(auth_strategy='http_basic', group='api')
    conf.config(http_basic_auth_user_file='/dev/null',
                group='oslo_middleware')
    app = api_app.build_app(rpcapi)
    root = request(app, 'GET', '/')
    assert root.status_int == 200
    v21, = root.json['versions']
    assert (v21['id'], v21['min_version'], v21['version']) == (
        'v2.1', '2.1', microversion.to_string(microversion.MAX_VERSION))
    assert v21['links'][0]['href'] == 'http://localhost/v2.1/'
    for path in ('/v2.1', '/v2.1/'):
        document = request(app, 'GET', path).json['version']
        assert document['status'] == 'CURRENT'
        assert document['media-types'][0]['base'] == 'application/json'
    assert request(app, 'GET', '/v2.1/os-services').status_int == 401


@pytest.mark.parametrize('version,id_type,forced_down', [
    (None, int, False), ('2.10', int, False), ('2.11', int, True),
    ('2.52', int, True), ('2.53', str, True), ('latest', str, True)])
def test_list_shows_novas_fields_per_microversion(cloud, version, id_type,
                                                  forced_down):
    resp = request(cloud, 'GET', '/v2.1/os-services', version=version)
    served = {None: '2.1', 'latest': microversion.to_string(
        microversion.MAX_VERSION)}.get(version, version)
    assert resp.headers['OpenStack-API-Version'] == 'compute ' + served
    assert resp.headers['X-OpenStack-Nova-API-Version'] == served
    services = resp.json['services']
    assert sorted(s['host'] for s in services) == [
        'cn1', 'cn2', 'cn3', 'sched1']
    fields = {'id', 'binary', 'host', 'zone', 'status', 'state',
              'updated_at', 'disabled_reason'}
    if forced_down:
        fields.add('forced_down')
    for service in services:
        assert set(service) == fields
        assert isinstance(service['id'], id_type)
    cn1 = next(s for s in services if s['host'] == 'cn1')
    assert (cn1['binary'], cn1['zone'], cn1['status'], cn1['state']) == (
        COMPUTE, 'nova', 'enabled', 'up')
    # Nova's format: always with microseconds, no zone.
    assert len(cn1['updated_at']) == len('2026-11-24T10:00:00.000000')


def test_legacy_version_header_is_honoured(cloud):
    resp = request(cloud, 'GET', '/v2.1/os-services',
                   headers={'X-OpenStack-Nova-API-Version': '2.53'})
    assert resp.headers['X-OpenStack-Nova-API-Version'] == '2.53'
    assert all(isinstance(s['id'], str) for s in resp.json['services'])


def test_list_filters_by_host_and_binary(cloud):
    assert [s['host'] for s in _services(cloud, query='?host=cn2')] == [
        'cn2']
    assert [s['host'] for s in _services(
        cloud, query='?binary=nova-scheduler')] == ['sched1']
    assert _services(cloud, query='?host=cn2&binary=nova-scheduler') == []
    # Empty values filter nothing, as in Nova; names no service can have
    # find nothing.
    assert len(_services(cloud, query='?host=&binary=')) == 4
    for query in ('?host=cn1%0A', '?host=%20cn1', '?binary=' + 'b' * 256):
        assert _services(cloud, query=query) == []


def test_unknown_query_parameters_are_refused_from_2_75(cloud):
    assert len(_services(cloud, version='2.74', query='?zone=x')) == 4
    resp = request(cloud, 'GET', '/v2.1/os-services?zone=x&a=1',
                   version='2.75')
    assert fault(resp, 400) == ("Additional properties are not allowed "
                                "('a', 'zone' were unexpected)")


@pytest.mark.parametrize('header,code,message', [
    ('compute 3.0', 406, 'Version 3.0 is not supported by the API. '
                         'Minimum is 2.1 and maximum is 2.96.'),
    ('compute 2.97', 406, 'Version 2.97 is not supported'),
    ('compute 2.0', 406, 'Minimum is 2.1'),
    ('compute 2.a', 400, 'API Version String 2.a is of invalid format'),
    ('compute 02.1', 400, 'invalid format'),
    ('compute ' + 'x' * 5000, 400, 'invalid format'),
    ('compute 2.' + '9' * 5000, 400, 'invalid format'),
])
def test_bad_microversions_get_novas_errors(cloud, header, code, message):
    resp = request(cloud, 'GET', '/v2.1/os-services',
                   headers={'OpenStack-API-Version': header})
    assert message in fault(resp, code)
    assert len(resp.body) < 1200


def test_another_services_version_header_is_ignored(cloud):
    resp = request(cloud, 'GET', '/v2.1/os-services',
                   headers={'OpenStack-API-Version': 'volume 3.70'})
    assert resp.headers['OpenStack-API-Version'] == 'compute 2.1'


def test_unknown_paths_and_methods(cloud):
    assert 'could not be found' in fault(
        request(cloud, 'GET', '/v2.1/os-hypervisors'), 404)
    assert fault(request(cloud, 'GET', '/v3/'), 404)
    assert 'POST is not allowed' in fault(
        request(cloud, 'POST', '/v2.1/os-services', body={}), 405)
    resp = request(cloud, 'GET', '/v2.1/os-services/x')
    assert fault(resp, 405)
    assert resp.headers['Allow'] == 'DELETE, PUT'
    resp = request(cloud, 'DELETE', '/v2.1/')
    assert fault(resp, 405)
    assert resp.headers['Allow'] == 'GET, HEAD'
    for path in ('/%FF', '/v2.1/os-services/%FF%FE'):
        assert fault(request(cloud, 'GET', path), 400) == \
            'The URL is not valid UTF-8.'


def test_put_by_uuid_disables_enables_and_forces_down(cloud, rpcapi, ctxt):
    cn1 = _by_host(cloud)['cn1']
    path = '/v2.1/os-services/' + cn1['id']
    resp = request(cloud, 'PUT', path, version='2.53', body={
        'status': 'disabled', 'disabled_reason': 'maintenance'})
    assert resp.status_int == 200
    service = resp.json['service']
    assert (service['id'], service['status'], service['disabled_reason'],
            service['forced_down']) == (
        cn1['id'], 'disabled', 'maintenance', False)
    service = request(cloud, 'PUT', path, version='2.53', body={
        'forced_down': True}).json['service']
    assert (service['status'], service['state'], service['forced_down']) \
        == ('disabled', 'down', True)
    service = request(cloud, 'PUT', path, version='2.53', body={
        'status': 'enabled', 'forced_down': 'false'}).json['service']
    assert (service['status'], service['disabled_reason'],
            service['forced_down'], service['state']) == (
        'enabled', None, False, 'up')
    # Disabling without a reason clears an old one, as in Nova.
    request(cloud, 'PUT', path, version='2.53',
            body={'status': 'disabled', 'disabled_reason': 'old'})
    service = request(cloud, 'PUT', path, version='2.53', body={
        'status': 'disabled'}).json['service']
    assert service['disabled_reason'] is None
    listed, = rpcapi.service_get_all(ctxt, host='cn1')
    assert listed['status'] == 'disabled'


@pytest.mark.parametrize('body,code,message', [
    ({}, 400, "No updates were requested. Fields 'status' or "
              "'forced_down' should be specified."),
    ({'disabled_reason': 'why'}, 400, 'No updates were requested'),
    ({'status': 'enabled', 'disabled_reason': 'why'}, 400,
     "Specifying 'disabled_reason' with status 'enabled' is invalid."),
    ({'status': 'off'}, 400, 'Invalid input for field/attribute status. '
                             "Value: off. 'off' is not one of"),
    ({'status': 'disabled', 'disabled_reason': 'x' * 256}, 400,
     'Invalid input for field/attribute disabled_reason'),
    ({'status': 'disabled', 'disabled_reason': ''}, 400,
     'disabled_reason'),
    ({'status': 'disabled', 'disabled_reason': 'a\x00b'}, 400,
     'disabled_reason must not contain control characters'),
    ({'forced_down': 'maybe'}, 400, 'forced_down'),
    ({'forced_down': 1}, 400, 'forced_down'),
    ({'status': 'disabled', 'host': 'cn2'}, 400,
     "Additional properties are not allowed ('host' was unexpected)"),
    (['status', 'disabled'], 400, "is not of type 'object'"),
])
def test_bad_put_bodies_change_nothing(cloud, rows, body, code, message):
    before = rows()
    path = '/v2.1/os-services/' + _by_host(cloud)['cn1']['id']
    resp = request(cloud, 'PUT', path, version='2.53', body=body)
    assert message in fault(resp, code)
    assert rows() == before


@pytest.mark.parametrize('raw,content_type,code,message', [
    (b'{"status": "disabled"', 'application/json', 400,
     'Malformed request body'),
    (b'\xff\xfe', 'application/json', 400, 'Malformed request body'),
    (b'[' * 100000, 'application/json', 400, 'Malformed request body'),
    # Deep enough for the validator's recursion, not for the parser's.
    (b'{"status": ' + b'[' * 900 + b']' * 900 + b'}', 'application/json',
     400, ''),
    (b'', 'application/json', 400, 'must be a JSON object'),
    (b'status=disabled', 'application/x-www-form-urlencoded', 415,
     'Unsupported Content-Type'),
])
def test_unreadable_bodies_change_nothing(cloud, rows, raw, content_type,
                                          code, message):
    before = rows()
    path = '/v2.1/os-services/' + _by_host(cloud)['cn1']['id']
    resp = request(cloud, 'PUT', path, version='2.53', raw=raw,
                   headers={'Content-Type': content_type})
    assert message in fault(resp, code)
    assert rows() == before


def test_put_by_uuid_needs_a_known_uuid(cloud, rows):
    before = rows()
    assert fault(request(cloud, 'PUT', '/v2.1/os-services/42',
                         version='2.53', body={'status': 'disabled'}),
                 400) == 'Invalid uuid 42'
    assert fault(request(cloud, 'PUT', '/v2.1/os-services/' + MISSING_UUID,
                         version='2.53', body={'status': 'disabled'}),
                 404) == 'Service %s could not be found.' % MISSING_UUID
    # The action URLs are gone from 2.53, as in Nova.
    assert fault(request(cloud, 'PUT', '/v2.1/os-services/disable',
                         version='2.53',
                         body={'host': 'cn1', 'binary': COMPUTE}),
                 400) == 'Invalid uuid disable'
    assert rows() == before


def test_legacy_actions(cloud):
    def act(action, version='2.11', **body):
        return request(cloud, 'PUT', '/v2.1/os-services/' + action,
                       version=version,
                       body=dict({'host': 'cn2', 'binary': COMPUTE}, **body))

    assert act('disable-log-reason', disabled_reason='disk').json == {
        'service': {'host': 'cn2', 'binary': COMPUTE, 'status': 'disabled',
                    'disabled_reason': 'disk'}}
    assert _by_host(cloud)['cn2']['disabled_reason'] == 'disk'
    assert act('enable', version=None).json == {'service': {
        'host': 'cn2', 'binary': COMPUTE, 'status': 'enabled'}}
    assert act('disable', disabled_reason='dropped').json == {'service': {
        'host': 'cn2', 'binary': COMPUTE, 'status': 'disabled'}}
    assert _by_host(cloud)['cn2']['disabled_reason'] is None
    assert act('force-down', forced_down=True).json == {'service': {
        'host': 'cn2', 'binary': COMPUTE, 'forced_down': True}}
    assert _by_host(cloud)['cn2']['state'] == 'down'
    assert act('force-down', forced_down='no').json['service'][
        'forced_down'] is False
    assert _by_host(cloud)['cn2']['state'] == 'up'


def test_bad_legacy_actions_change_nothing(cloud, rows):
    before = rows()
    body = {'host': 'cn2', 'binary': COMPUTE}

    def act(action, version='2.11', **extra):
        return request(cloud, 'PUT', '/v2.1/os-services/' + action,
                       version=version, body=dict(body, **extra))

    assert fault(act('disable-log-reason'), 400) == \
        'Missing disabled reason field'
    assert fault(act('force-down'), 400) == 'Missing forced_down field'
    # force-down came with 2.11, and forced_down in the body with it.
    assert fault(act('force-down', version='2.10'), 404) == 'Unknown action'
    assert fault(act('force-down', version='2.10', forced_down=True),
                 400).startswith('Additional properties')
    assert fault(act('reboot'), 404) == 'Unknown action'
    assert fault(request(cloud, 'PUT', '/v2.1/os-services/enable',
                         body={'host': 'cn2'}), 400) == \
        "'binary' is a required property"
    assert fault(act('enable', host='nope'), 404) == \
        'Service nova-compute on host nope could not be found.'
    assert fault(act('enable', host='cn\x01'), 400) == \
        'Invalid input: host must not contain control characters'
    assert rows() == before


def test_delete_by_uuid_and_by_id(cloud, rows):
    hosts = _by_host(cloud)
    resp = request(cloud, 'DELETE', '/v2.1/os-services/' + hosts['cn1']['id'],
                   version='2.53')
    assert (resp.status_int, resp.body) == (204, b'')
    assert resp.headers['OpenStack-API-Version'] == 'compute 2.53'
    assert fault(request(cloud, 'DELETE',
                         '/v2.1/os-services/' + hosts['cn1']['id'],
                         version='2.53'), 404).endswith('not found.')
    cn2_id = _by_host(cloud, version='2.52')['cn2']['id']
    assert request(cloud, 'DELETE', '/v2.1/os-services/%d' % cn2_id
                   ).status_int == 204
    assert sorted(_by_host(cloud)) == ['cn3', 'sched1']


@pytest.mark.parametrize('service_id,version,code,message', [
    ('abc', None, 400, 'Invalid input received: id must be an integer'),
    ('%C2%B2', None, 400, 'id must be an integer'),
    ('1.5', None, 400, 'id must be an integer'),
    ('-1', None, 404, 'Service -1 not found.'),
    ('0', None, 404, 'Service 0 not found.'),
    ('99999999999999999999', None, 404, 'not found'),
    ('9' * 5000, None, 404, 'not found'),
    ('12', '2.53', 400, 'Invalid uuid 12'),
    (MISSING_UUID, '2.53', 404, 'Service %s not found.' % MISSING_UUID),
])
def test_bad_deletes_change_nothing(cloud, rows, service_id, version, code,
                                    message):
    before = rows()
    resp = request(cloud, 'DELETE', '/v2.1/os-services/' + service_id,
                   version=version)
    assert message in fault(resp, code)
    assert rows() == before


def test_no_conductor_is_a_503(conf, db):
    conf.config(auth_strategy='noauth', group='api')
    conf.config(call_timeout=1, group='conductor')
    app = api_app.build_app(conductor_rpcapi.ConductorAPI())
    message = fault(request(app, 'GET', '/v2.1/os-services'), 503)
    assert message.startswith('Cannot reach the conductor')


def test_a_conductor_too_old_for_a_call_is_a_409(cloud, conf, rows):
    conf.config(conductor='1.2', group='upgrade_levels')
    pinned = api_app.build_app(conductor_rpcapi.ConductorAPI())
    before = rows()
    path = '/v2.1/os-services/' + _by_host(pinned)['cn1']['id']
    message = fault(request(pinned, 'PUT', path, version='2.53',
                            body={'status': 'disabled'}), 409)
    assert 'needs conductor RPC version 1.3' in message
    assert rows() == before
    # What 1.0 carries still works.
    assert request(pinned, 'PUT', '/v2.1/os-services/disable', body={
        'host': 'cn1', 'binary': COMPUTE}).status_int == 200
    assert rows() != before


def _htpasswd(tmp_path, users):
    path = tmp_path / 'htpasswd'
    path.write_text(''.join(
        '%s:%s\n' % (user, bcrypt.hashpw(password.encode(),
                                         bcrypt.gensalt(rounds=4)).decode())
        for user, password in users.items()))
    return str(path)


def _basic(user, password):
    return {'Authorization': 'Basic ' + base64.b64encode(
        ('%s:%s' % (user, password)).encode()).decode()}


@pytest.fixture
def guarded(conf, rpcapi, ctxt, tmp_path):
    """http_basic: ops (admin), viewer (reader) and guest (no role
    given)."""
    rpcapi.register_service(ctxt, report('cn1'))
    conf.config(auth_strategy='http_basic', group='api')
    conf.config(http_basic_roles={'ops': 'admin', 'viewer': 'reader'},
                group='api')
    conf.config(http_basic_auth_user_file=_htpasswd(
        tmp_path, {'ops': 'opspass', 'viewer': 'viewpass',
                   'guest': 'guestpass'}),
        group='oslo_middleware')
    return api_app.build_app(rpcapi)


def test_basic_auth_admin_reads_and_writes(guarded):
    ops = _basic('ops', 'opspass')
    resp = request(guarded, 'GET', '/v2.1/os-services', version='2.53',
                   headers=ops)
    assert resp.status_int == 200
    cn1 = next(s for s in resp.json['services'] if s['host'] == 'cn1')
    resp = request(guarded, 'PUT', '/v2.1/os-services/' + cn1['id'],
                   version='2.53', headers=ops, body={'status': 'disabled'})
    assert resp.json['service']['status'] == 'disabled'


@pytest.mark.parametrize('headers', [
    {},
    _basic('ops', 'wrong'),
    _basic('nobody', 'opspass'),
    {'Authorization': 'Basic !!!'},
    {'Authorization': 'Bearer abc'},
    # Identity headers from the client are never believed.
    {'X-User': 'ops', 'X-Roles': 'admin'},
])
def test_basic_auth_refuses_bad_credentials(guarded, rows, headers):
    before = rows()
    for method, body in (('GET', None), ('PUT', {'status': 'disabled'}),
                         ('DELETE', None)):
        resp = request(guarded, method, '/v2.1/os-services/' + MISSING_UUID
                       if method != 'GET' else '/v2.1/os-services',
                       version='2.53', headers=headers, body=body)
        assert resp.status_int == 401
        assert resp.headers['WWW-Authenticate'] == \
            'Basic realm="sgconductor"'
    assert rows() == before


@pytest.mark.parametrize('user,password', [('viewer', 'viewpass'),
                                           ('guest', 'guestpass')])
def test_reader_may_list_but_not_change(guarded, rows, user, password):
    viewer = dict(_basic(user, password), **{'X-Roles': 'admin'})
    resp = request(guarded, 'GET', '/v2.1/os-services', version='2.53',
                   headers=viewer)
    assert resp.status_int == 200
    cn1 = next(s for s in resp.json['services'] if s['host'] == 'cn1')
    before = rows()
    resp = request(guarded, 'PUT', '/v2.1/os-services/' + cn1['id'],
                   version='2.53', headers=viewer,
                   body={'status': 'disabled'})
    assert fault(resp, 403) == ("Policy doesn't allow "
                                "os_compute_api:os-services:update to be "
                                "performed.")
    assert fault(request(guarded, 'DELETE', '/v2.1/os-services/' + cn1['id'],
                         version='2.53', headers=viewer), 403)
    assert fault(request(guarded, 'PUT', '/v2.1/os-services/disable',
                         headers=viewer,
                         body={'host': 'cn1', 'binary': COMPUTE}), 403)
    assert rows() == before


def test_policy_file_overrides_the_defaults_and_is_reread(conf, rpcapi,
                                                         tmp_path):
    policy_file = tmp_path / 'policy.yaml'
    policy_file.write_text('"os_compute_api:os-services:list": "!"\n')
    conf.config(policy_file=str(policy_file), group='oslo_policy')
    conf.config(auth_strategy='noauth', group='api')
    app = api_app.build_app(rpcapi)
    assert fault(request(app, 'GET', '/v2.1/os-services'), 403)
    # Changed into something unreadable after start: 500 and a log line,
    # never a traceback to the client.
    # oslo.policy reads the file again once its mtime grows.
    later = os.path.getmtime(policy_file) + 10
    policy_file.write_text('"a": [unclosed\n')
    os.utime(policy_file, (later, later))
    assert 'policy file cannot be used' in fault(
        request(app, 'GET', '/v2.1/os-services'), 500)
    policy_file.write_text('{}\n')
    os.utime(policy_file, (later + 10, later + 10))
    assert request(app, 'GET', '/v2.1/os-services').status_int == 200


@pytest.mark.parametrize('option,group,value,message', [
    ('http_basic_auth_user_file', 'oslo_middleware', '/nonexistent',
     '/nonexistent is not a readable htpasswd file'),
    ('http_basic_auth_user_file', 'oslo_middleware', 'PLAIN',
     'is not a readable htpasswd file of bcrypt entries'),
    ('policy_file', 'oslo_policy', 'BROKEN', '[oslo_policy] policy_file'),
])
def test_unusable_auth_or_policy_files_fail_at_start(conf, rpcapi, tmp_path,
                                                     option, group, value,
                                                     message):
    if value == 'PLAIN':
        value = str(tmp_path / 'htpasswd')
        (tmp_path / 'htpasswd').write_text('ops:{SHA}abcdef\n')
    elif value == 'BROKEN':
        value = str(tmp_path / 'policy.yaml')
        (tmp_path / 'policy.yaml').write_text('"a": [unclosed\n')
    conf.config(**{option: value, 'group': group})
    with pytest.raises(exception.ConfigInvalid) as caught:
        api_app.build_app(rpcapi)
    assert message in str(caught.value)
    assert '\n' not in str(caught.value)


def test_keystone_without_keystonemiddleware_says_what_to_install(
        conf, rpcapi, monkeypatch):
    # As if it were not installed (None in sys.modules fails the import).
    monkeypatch.setitem(sys.modules, 'keystonemiddleware', None)
    conf.config(auth_strategy='keystone', group='api')
    with pytest.raises(exception.ConfigInvalid) as caught:
        api_app.build_app(rpcapi)
    assert 'pip install "sgconductor[keystone]"' in str(caught.value)


def test_responses_are_json_with_a_request_id(cloud):
    resp = request(cloud, 'GET', '/v2.1/os-services')
    assert resp.content_type == 'application/json'
    assert resp.headers['x-openstack-request-id'].startswith('req-')
    json.loads(resp.body)


def test_purge_deletes_services_down_long_enough(cloud, db):
    last_seen(db, 'cn3', 7200)
    body = {'down_for': 3600, 'dry_run': True}
    resp = request(cloud, 'POST', '/v2.1/os-services/purge', body=body,
                   version='2.53')
    assert [s['host'] for s in resp.json['services']] == ['cn3']
    assert 'cn3' in _by_host(cloud)
    del body['dry_run']
    resp = request(cloud, 'POST', '/v2.1/os-services/purge', body=body)
    assert [(s['host'], s['state']) for s in resp.json['services']] == [
        ('cn3', 'down')]
    assert sorted(_by_host(cloud)) == ['cn1', 'cn2', 'sched1']


@pytest.mark.parametrize('method,body,code,message', [
    ('POST', {'down_for': 1}, 400, 'must be at least service_down_time'),
    ('POST', {'down_for': -1}, 400, 'down_for'),
    ('POST', {'down_for': '1h'}, 400, 'down_for'),
    ('POST', {}, 400, "'down_for' is a required property"),
    ('POST', {'down_for': 3600, 'dry_run': 'yes'}, 400, 'dry_run'),
    ('PUT', {'down_for': 3600}, 405, 'PUT is not allowed'),
])
def test_bad_purges_change_nothing(cloud, db, rows, method, body, code,
                                   message):
    last_seen(db, 'cn3', 7200)
    before = rows()
    resp = request(cloud, method, '/v2.1/os-services/purge', body=body)
    assert message in fault(resp, code)
    assert rows() == before


def test_purge_is_for_admins(guarded, db, rows):
    last_seen(db, 'cn1', 7200)
    before = rows()
    resp = request(guarded, 'POST', '/v2.1/os-services/purge',
                   headers=_basic('viewer', 'viewpass'),
                   body={'down_for': 3600})
    assert fault(resp, 403) == ("Policy doesn't allow "
                                "sgconductor:os-services:purge to be "
                                "performed.")
    assert rows() == before


def _samples(resp):
    """{(name, labels): value} of a /metrics answer, as Prometheus reads
    it."""
    assert resp.status_int == 200, resp.body
    assert resp.headers['Content-Type'] == \
        'text/plain; version=0.0.4; charset=utf-8'
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(resp.text)
            for sample in family.samples}


def _services_metric(binary, state):
    return ('sgconductor_services', (('binary', binary), ('state', state)))


def test_metrics_count_services_per_binary_and_state(cloud, rpcapi, ctxt):
    rpcapi.service_update(ctxt, 'cn1', COMPUTE, {'forced_down': True})
    rpcapi.service_update(ctxt, 'cn2', COMPUTE, {'disabled': True})
    rpcapi.register_service(ctxt, report('odd', binary='we"ird\\bin'))
    got = _samples(request(cloud, 'GET', '/metrics'))
    assert {state: got[_services_metric(COMPUTE, state)]
            for state in ('up', 'down', 'unknown')} == {
        'up': 2, 'down': 1, 'unknown': 0}
    assert got[_services_metric('nova-scheduler', 'up')] == 1
    assert got[_services_metric('we"ird\\bin', 'up')] == 1
    assert got[('sgconductor_services_disabled', (('binary', COMPUTE),))] \
        == 1
    assert got[('sgconductor_reports_total', ())] == 5
    rpcapi.register_service(ctxt, report('cn3'))
    got = _samples(request(cloud, 'GET', '/metrics'))
    assert got[('sgconductor_reports_total', ())] == 6


def test_metrics_show_the_report_lag_once_an_intake_said(cloud):
    # The in-process conductor's intake moves read_until every flush.
    def lag():
        return _samples(request(cloud, 'GET', '/metrics')).get(
            ('sgconductor_report_lag_seconds', ()))
    wait_for(lambda: lag() is not None)
    assert 0 <= lag() < 30


def test_metrics_show_the_tallies_by_host_and_reason(cloud, db):
    """Written down by each conductor process (conductor/counters.py),
    summed per host and reason."""
    for host, process, name, reason, count in (
            ('ctl1', 'intake-0', conflicts.RETRIES, conflicts.CONFLICT, 3),
            ('ctl1', 'worker-0', conflicts.RETRIES, conflicts.CONFLICT, 2),
            ('ctl2', 'worker-1', conflicts.RETRIES, conflicts.CONFLICT, 4),
            ('ctl1', 'intake-0', rejected.NAME, 'not_json', 7),
            ('ctl1', 'intake-1', rejected.NAME, 'not_json', 1),
            ('ctl1', 'intake-1', rejected.NAME, 'NoSuchMethod', 2)):
        db.counter_add(host, process, {(name, reason): count})
    got = _samples(request(cloud, 'GET', '/metrics'))

    def family(wanted):
        return {labels: value for (name, labels), value in got.items()
                if name == wanted}
    assert family('sgconductor_database_retries_total') == {
        (('host', 'ctl1'), ('reason', 'conflict')): 5,
        (('host', 'ctl2'), ('reason', 'conflict')): 4}
    assert family('sgconductor_rejected_messages_total') == {
        (('host', 'ctl1'), ('reason', 'NoSuchMethod')): 2,
        (('host', 'ctl1'), ('reason', 'not_json')): 8}


def test_metrics_are_for_readers(guarded, rows):
    assert _samples(request(guarded, 'GET', '/metrics',
                            headers=_basic('viewer', 'viewpass')))
    assert request(guarded, 'GET', '/metrics').status_int == 401
    resp = request(guarded, 'POST', '/metrics',
                   headers=_basic('ops', 'opspass'))
    assert fault(resp, 405)
    assert resp.headers['Allow'] == 'GET, HEAD'


def test_metrics_without_a_conductor_are_a_503(conf, db):
    conf.config(auth_strategy='noauth', group='api')
    conf.config(call_timeout=1, group='conductor')
    app = api_app.build_app(conductor_rpcapi.ConductorAPI())
    assert fault(request(app, 'GET', '/metrics'), 503).startswith(
        'Cannot reach the conductor')


@pytest.fixture
def keystone(conf, rpcapi, ctxt):
    """auth_strategy = keystone: keystonemiddleware's auth_token as
    deployed, with keystone itself replaced by its AuthTokenFixture (the
    tokens a keystone would vouch for). Yields the application and a
    token maker: role -> token."""
    from keystonemiddleware import fixture as keystone_fixture
    from keystonemiddleware import opts as keystone_opts

    tokens = keystone_fixture.AuthTokenFixture()
    tokens.setUp()
    rpcapi.register_service(ctxt, report('cn1'))
    conf.config(auth_strategy='keystone', group='api')

    def token(role):
        token_id = uuid.uuid4().hex
        tokens.add_token_data(token_id=token_id, user_id='u-' + role,
                              project_id='p1', role_list=[role])
        return token_id
    # Where a 401 sends clients, as a deployment configures it.
    for group, opts in keystone_opts.list_auth_token_opts():
        conf.conf.register_opts(opts, group=group)
    conf.config(www_authenticate_uri='http://keystone.test:5000/v3',
                group='keystone_authtoken')
    yield api_app.build_app(rpcapi), token
    tokens.cleanUp()


def test_keystone_tokens_decide_who_may_do_what(keystone, rows):
    app, token = keystone

    def call(method, path, role=None, body=None, **headers):
        if role is not None:
            headers['X-Auth-Token'] = token(role)
        return request(app, method, path, version='2.53', body=body,
                       headers=headers)

    listed = call('GET', '/v2.1/os-services', role='reader')
    assert listed.status_int == 200
    path = '/v2.1/os-services/' + listed.json['services'][0]['id']
    before = rows()
    assert call('GET', '/v2.1/os-services').status_int == 401
    assert call('GET', '/v2.1/os-services', **{
        'X-Auth-Token': 'not-a-token'}).status_int == 401
    assert fault(call('GET', '/v2.1/os-services', role='member'), 403)
    # A reader's token with made-up identity headers stays a reader's.
    assert fault(call('PUT', path, role='reader',
                      body={'status': 'disabled'},
                      **{'X-Roles': 'admin', 'X-Is-Admin': 'True'}), 403)
    assert rows() == before
    changed = call('PUT', path, role='admin', body={'status': 'disabled'})
    assert changed.json['service']['status'] == 'disabled'
