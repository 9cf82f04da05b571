# SPDX-License-Identifier: Apache-2.0
"""End to end: conductor, compute agents and the operator CLI, for real."""

from sgconductor import version
from tests.functional import deployment as sg_deployment
from tests.functional.deployment import one_line

FLEET = ['fh-00001', 'fh-00002', 'fh-00003']
BINARY = 'nova-compute'

# Seconds for the agents to register and report (they start after the
# conductor consumes, so their first call is answered at once).
REGISTER_TIMEOUT = 20
# A stopped service turns down service_down_time after its last report.
DOWN_TIMEOUT = sg_deployment.SERVICE_DOWN_TIME + 12
# A compute agent sends a last report on SIGTERM, then exits.
COMPUTE_STOP_TIMEOUT = 15


def _versions(deployment, which):
    return deployment.manage_json('service', '%s-version' % which, BINARY)


def _all_up(hosts):
    def predicate(services):
        return (set(services) == set(hosts)
                and all(s['state'] == 'up' for s in services.values()))
    return predicate


def test_spine(deployment):
    deployment.start_conductor()
    deployment.start_compute('fleet', '--host', 'fh', '--fleet', '3',
                             '--service-version', '5')
    old = deployment.start_compute('old', '--host', 'old',
                                   '--service-version', '3')

    services = deployment.wait_for_services(
        '4 services up', _all_up(FLEET + ['old']), REGISTER_TIMEOUT)
    for host, service in services.items():
        assert service['binary'] == BINARY
        assert service['status'] == 'enabled'
        assert service['forced_down'] is False
        assert service['version'] == (3 if host == 'old' else 5)
    first_counts = {h: s['report_count'] for h, s in services.items()}

    assert _versions(deployment, 'min') == {BINARY: 3}
    assert _versions(deployment, 'max') == {BINARY: 5}

    # The conductor lists itself, with the version of its code.
    (conductor,) = deployment.services(binary='sgconductor-conductor')
    assert conductor['state'] == 'up'
    assert conductor['version'] == version.SERVICE_VERSION

    # A stopped compute turns down and stays listed.
    assert old.stop(COMPUTE_STOP_TIMEOUT) == 0
    services = deployment.wait_for_services(
        '"old" to be down',
        lambda s: 'old' in s and s['old']['state'] == 'down', DOWN_TIMEOUT)
    assert set(services) == set(FLEET + ['old'])
    assert services['old']['forced_down'] is False
    assert services['old']['state_reason'].startswith('no report')
    assert all(services[h]['state'] == 'up' for h in FLEET)

    # disable / enable
    deployment.manage_ok('service', 'disable', 'fh-00001', BINARY,
                         '--reason', 'maint')
    service = deployment.service_map()['fh-00001']
    assert service['status'] == 'disabled'
    assert service['disabled_reason'] == 'maint'
    assert service['state'] == 'up'
    deployment.manage_ok('service', 'enable', 'fh-00001', BINARY)
    service = deployment.service_map()['fh-00001']
    assert service['status'] == 'enabled'
    assert service['disabled_reason'] is None

    # force-down wins over the reports fh-00002 keeps sending; force-up
    # hands its state back to the reports.
    deployment.manage_ok('service', 'force-down', 'fh-00002', BINARY)
    services = deployment.service_map()
    assert services['fh-00002']['state'] == 'down'
    assert services['fh-00002']['forced_down'] is True
    assert services['fh-00002']['state_reason'] == 'forced down'
    deployment.manage_ok('service', 'force-up', 'fh-00002', BINARY)
    services = deployment.service_map()
    assert services['fh-00002']['forced_down'] is False
    assert services['fh-00002']['state'] == 'up'

    # A forced-down service counts for neither min-version nor
    # max-version, until it is forced up again.
    deployment.manage_ok('service', 'force-down', 'old', BINARY)
    assert _versions(deployment, 'min') == {BINARY: 5}
    deployment.manage_ok('service', 'force-up', 'old', BINARY)
    assert _versions(deployment, 'min') == {BINARY: 3}

    # The stopped one is what a purge would delete.
    stale = deployment.manage_json(
        'service', 'purge', '--dry-run',
        '--down-for', '%ds' % sg_deployment.SERVICE_DOWN_TIME)
    assert [s['host'] for s in stale] == ['old']
    assert set(deployment.service_map()) == set(FLEET + ['old'])

    # delete
    deployment.manage_ok('service', 'delete', 'old', BINARY)
    services = deployment.service_map()
    assert set(services) == set(FLEET)
    assert _versions(deployment, 'min') == {BINARY: 5}
    again = deployment.manage('service', 'delete', 'old', BINARY)
    assert again.returncode == 2, again
    assert 'could not be found' in one_line(again.stderr)
    assert 'Traceback' not in again.stderr + again.stdout

    # The live services kept reporting all along.
    services = deployment.wait_for_services(
        'report counts to grow',
        lambda s: all(s[h]['report_count'] > first_counts[h] + 1
                      for h in FLEET), REGISTER_TIMEOUT)
    assert all(services[h]['state'] == 'up' for h in FLEET)
    assert deployment.conductor.running()

