# SPDX-License-Identifier: Apache-2.0
"""python-openstackclient, unmodified, against sgconductor-api: real
processes (conductor, computes, API) on RabbitMQ and each database, HTTP
basic authentication from a bcrypt htpasswd file. What the client changes
is checked with sgconductor-manage, through the conductor."""

import base64
import json
import os
import subprocess
import urllib.request

import bcrypt
from prometheus_client.parser import text_string_to_metric_families

from tests.functional import processes

BINARY = 'nova-compute'
FLEET = ['cn-00001', 'cn-00002', 'cn-00003']
REGISTER_TIMEOUT = 30
OPENSTACK_TIMEOUT = 60

USERS = {'ops': ('opspass', 'admin'), 'viewer': ('viewpass', 'reader')}


def _htpasswd(deployment):
    path = deployment.path('htpasswd')
    with open(path, 'w') as f:
        for user, (password, _) in USERS.items():
            f.write('%s:%s\n' % (user, bcrypt.hashpw(
                password.encode(), bcrypt.gensalt(rounds=5)).decode()))
    return path


class OpenStack:
    """The openstack command as ``user``, aimed at ``endpoint`` with
    --os-auth-type http_basic; no clouds.yaml or OS_* variable of this
    machine gets in the way."""

    def __init__(self, deployment, endpoint, user, password):
        self.deployment = deployment
        self.auth = ['--os-auth-type', 'http_basic', '--os-endpoint',
                     endpoint, '--os-username', user, '--os-password',
                     password]
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith('OS_')}
        self.env['HOME'] = deployment.workdir

    def run(self, *args):
        try:
            return subprocess.run(
                [processes.console_script('openstack')] + self.auth
                + list(args), capture_output=True, text=True,
                timeout=OPENSTACK_TIMEOUT, env=self.env,
                stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError('openstack %s did not finish\n%s' % (
                ' '.join(args), self.deployment.describe())) from exc

    def ok(self, *args):
        result = self.run(*args)
        assert result.returncode == 0, (
            'openstack %s exited %s\nstdout: %s\nstderr: %s\n%s' % (
                ' '.join(args), result.returncode, result.stdout,
                result.stderr, self.deployment.describe()))
        return result.stdout

    def services(self, *args):
        """``compute service list`` as {host: row}, for nova-compute."""
        rows = json.loads(self.ok('compute', 'service', 'list', '-f', 'json',
                                  '--service', BINARY, *args))
        return {row['Host']: row for row in rows}


def _start_api(deployment):
    """sgconductor-api with basic authentication for USERS; its /v2.1
    endpoint."""
    return deployment.start_api({
        'api': {'auth_strategy': 'http_basic',
                'http_basic_roles': ','.join(
                    '%s:%s' % (user, role)
                    for user, (_, role) in USERS.items())},
        'oslo_middleware': {
            'http_basic_auth_user_file': _htpasswd(deployment)}})


def test_openstackclient_lists_sets_and_deletes(deployment):
    d = deployment
    d.start_conductor()
    d.start_compute('fleet', '--host', 'cn', '--fleet', '3')
    endpoint = _start_api(d)
    ops = OpenStack(d, endpoint, 'ops', 'opspass')
    d.wait_for('the fleet up through the API',
               lambda: {h for h, s in ops.services().items()
                        if s['State'] == 'up'} == set(FLEET),
               REGISTER_TIMEOUT)

    listed = ops.services('--long')
    assert {(row['Status'], row['Forced Down'], row['Zone'])
            for row in listed.values()} == {('enabled', False, 'nova')}
    ids = {host: row['ID'] for host, row in listed.items()}

    ops.ok('compute', 'service', 'set', '--disable', '--disable-reason',
           'rma 4711', 'cn-00001', BINARY)
    ops.ok('compute', 'service', 'set', '--down', 'cn-00002', BINARY)
    stored = d.service_map()
    assert (stored['cn-00001']['status'],
            stored['cn-00001']['disabled_reason']) == ('disabled',
                                                       'rma 4711')
    assert (stored['cn-00002']['forced_down'],
            stored['cn-00002']['state']) == (True, 'down')
    listed = ops.services('--long')
    assert listed['cn-00001']['Disabled Reason'] == 'rma 4711'
    assert (listed['cn-00002']['State'], listed['cn-00002']['Forced Down']) \
        == ('down', True)

    # Before 2.53 the client uses the action URLs.
    ops.ok('--os-compute-api-version', '2.11', 'compute', 'service', 'set',
           '--enable', '--up', 'cn-00002', BINARY)
    ops.ok('compute', 'service', 'set', '--enable', 'cn-00001', BINARY)
    assert {(s['status'], s['forced_down'], s['disabled_reason'])
            for s in d.services()} == {('enabled', False, None)}

    # A reader lists, and changes nothing.
    viewer = OpenStack(d, endpoint, 'viewer', 'viewpass')
    assert set(viewer.services()) == set(FLEET)
    before = d.service_map()
    refused = viewer.run('compute', 'service', 'set', '--disable',
                         'cn-00003', BINARY)
    assert refused.returncode != 0
    refused = viewer.run('compute', 'service', 'delete', ids['cn-00003'])
    assert refused.returncode != 0
    assert '403' in refused.stderr
    # A wrong password reads nothing.
    intruder = OpenStack(d, endpoint, 'ops', 'guess')
    refused = intruder.run('compute', 'service', 'list')
    assert refused.returncode != 0
    assert '401' in refused.stderr
    assert {h: (s['status'], s['forced_down'])
            for h, s in d.service_map().items()} == {
        h: (s['status'], s['forced_down']) for h, s in before.items()}

    # Delete by id; the running compute's reports are ignored from then on.
    ops.ok('compute', 'service', 'delete', ids['cn-00003'])
    assert set(d.service_map()) == {'cn-00001', 'cn-00002'}
    again = ops.run('compute', 'service', 'delete', ids['cn-00003'])
    assert again.returncode != 0
    assert 'Service %s not found.' % ids['cn-00003'] in again.stderr
    assert set(ops.services()) == {'cn-00001', 'cn-00002'}


def _scrape(metrics_url, user='viewer'):
    """What Prometheus reads at /metrics, as {(name, labels): value}."""
    password = USERS[user][0]
    request = urllib.request.Request(metrics_url, headers={
        'Authorization': 'Basic ' + base64.b64encode(
            ('%s:%s' % (user, password)).encode()).decode()})
    with urllib.request.urlopen(request, timeout=30) as resp:
        text = resp.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples}


def _computes(scraped, state):
    return scraped.get(('sgconductor_services',
                        (('binary', BINARY), ('state', state))))


def test_metrics_follow_the_fleet(deployment):
    d = deployment
    d.start_conductor()
    d.start_compute('fleet', '--host', 'cn', '--fleet', '2')
    lone = d.start_compute('lone', '--host', 'lone')
    metrics_url = _start_api(d).replace('/v2.1', '/metrics')

    lag = ('sgconductor_report_lag_seconds', ())

    def all_up():
        # The lag shows once the intake has read its first mark, a
        # resume_hold() after it started.
        scraped = _scrape(metrics_url)
        return (scraped if _computes(scraped, 'up') == 3 and lag in scraped
                else None)
    first = d.wait_for('3 computes up in /metrics', all_up, REGISTER_TIMEOUT)
    assert 0 <= first[lag] < 10
    # Heartbeats keep coming: the counter Prometheus takes rate() of.
    reports = ('sgconductor_reports_total', ())
    d.wait_for('reports counted',
               lambda: _scrape(metrics_url)[reports] >= first[reports] + 6,
               REGISTER_TIMEOUT)

    assert lone.stop(REGISTER_TIMEOUT) == 0

    def lone_down():
        scraped = _scrape(metrics_url)
        return (_computes(scraped, 'down'), _computes(scraped, 'up')) == (1, 2)
    d.wait_for('lone down in /metrics', lone_down, REGISTER_TIMEOUT)
