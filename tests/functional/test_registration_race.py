# SPDX-License-Identifier: Apache-2.0
"""100 first registrations of one host and binary at the same moment,
through two conductor hosts of two worker processes each: one row, and
every caller is told the same service."""

import threading

from sgconductor.conductor import rpcapi as conductor_rpcapi

CALLERS = 100
TIMEOUT = 60
REPORT = {'host': 'race', 'binary': 'nova-compute', 'topic': 'compute',
          'version': 3, 'availability_zone': 'nova'}


def test_concurrent_first_registrations_make_one_row(deployment, client):
    deployment.start_conductor(sections={'conductor': {'workers': 2}})
    other_host = deployment._start(
        'conductor-b', 'sgconductor-conductor',
        sections={'DEFAULT': {'host': 'conductor-b'},
                  'conductor': {'workers': 2}})
    deployment.wait_for(
        'the second conductor to consume', lambda: 'consuming topic' in
        deployment.read_log('conductor-b'), TIMEOUT, interval=0.1)
    ctxt = conductor_rpcapi.admin_context()
    start = threading.Barrier(CALLERS)
    answers, errors = [], []

    def register():
        start.wait()
        try:
            answers.append(client.register_service(ctxt, dict(REPORT)))
        except Exception as exc:
            errors.append(exc)

    callers = [threading.Thread(target=register) for _ in range(CALLERS)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(TIMEOUT)
    assert not errors, errors[:3]
    assert len(answers) == CALLERS
    assert {(a['service']['id'], a['service']['uuid'])
            for a in answers} == {(answers[0]['service']['id'],
                                   answers[0]['service']['uuid'])}
    assert sorted(a['outcome'] for a in answers) == (
        ['created'] + ['updated'] * (CALLERS - 1))

    (row,) = deployment.services(host='race')
    assert row['uuid'] == answers[0]['service']['uuid']
    assert row['report_count'] == CALLERS
    other_host.stop(30)
    deployment.stop_conductor()
    for name in ('conductor', 'conductor-b'):
        assert 'Traceback' not in deployment.read_log(name)
