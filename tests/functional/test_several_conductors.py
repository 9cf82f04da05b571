# SPDX-License-Identifier: Apache-2.0
"""Several conductors (worker processes, and a second "host") consume the
same topics: the result is the one a single conductor gives."""

import re

from sgconductor.conductor import rpcapi as conductor_rpcapi

SERVICES = 100
HEARTBEATS = 20
TIMEOUT = 60
INTAKE_STOPPED = re.compile(r"Heartbeat intake of \S+ stopped: (\{.*\})")


def report(i):
    return {'host': 'cn-%03d' % i, 'binary': 'nova-compute',
            'topic': 'compute', 'version': 3, 'availability_zone': 'nova'}


def intake_totals(deployment, names):
    """The counts every intake logged on its way out."""
    totals = []
    for name in names:
        for match in INTAKE_STOPPED.finditer(deployment.read_log(name)):
            totals.append(eval(match.group(1), {}))  # a logged dict
    return totals


def test_three_consumers_count_every_heartbeat_once(deployment, client):
    deployment.start_conductor(
        sections={'conductor': {'workers': 2, 'intake_workers': 2}})
    other_host = deployment._start(
        'conductor-b', 'sgconductor-conductor',
        sections={'DEFAULT': {'host': 'conductor-b'}})
    deployment.wait_for(
        'the second conductor to consume', lambda: 'consuming topic' in
        deployment.read_log('conductor-b'), TIMEOUT, interval=0.1)
    ctxt = conductor_rpcapi.admin_context()

    # Registrations are calls, answered by whichever conductor takes them;
    # heartbeats go to any of the three intakes.
    uuids = [client.register_service(ctxt, report(i))['service']['uuid']
             for i in range(SERVICES)]
    for _ in range(HEARTBEATS):
        for i, uuid in enumerate(uuids):
            client.report_state(ctxt, dict(report(i), uuid=uuid))

    expected = 1 + HEARTBEATS
    services = deployment.wait_for_services(
        'every heartbeat to be written',
        lambda s: len(s) == SERVICES and all(
            v['report_count'] >= expected for v in s.values()), TIMEOUT)
    assert {v['report_count'] for v in services.values()} == {expected}
    assert {v['uuid'] for v in services.values()} == set(uuids)

    other_host.stop(30)
    deployment.stop_conductor()
    totals = intake_totals(deployment, ['conductor', 'conductor-b'])
    assert len(totals) == 3, totals
    assert sum(t.get('received', 0) for t in totals) == (
        SERVICES * HEARTBEATS)
    assert sum(1 for t in totals if t.get('received')) >= 2, totals
    assert not any(t.get('refused') or t.get('poison') for t in totals)
    for name in ('conductor', 'conductor-b'):
        assert 'Traceback' not in deployment.read_log(name)
