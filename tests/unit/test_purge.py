# SPDX-License-Identifier: Apache-2.0
"""service_purge: stale services deleted in one go (in-memory transport)."""

import datetime
import json

import pytest
import sqlalchemy as sa
from oslo_utils import timeutils

from sgconductor import exception
from sgconductor.cmd import manage
from sgconductor.conductor import versioncache
from sgconductor.db.sqlalchemy import models
from tests.inprocess import last_seen
from tests.inprocess import report
from tests.unit.test_cmd import assert_one_line_error
from tests.unit.test_cmd import run
from tests.unit.test_manager import wait_for

HOUR = 3600


@pytest.fixture
def fleet(rpcapi, ctxt, db):
    """cn1 reporting; gone1 (version 1) and gone2 silent for two hours."""
    rpcapi.register_service(ctxt, report('cn1', version=2))
    rpcapi.register_service(ctxt, report('gone1', version=1))
    rpcapi.register_service(ctxt, report('gone2', version=2))
    for host in ('gone1', 'gone2'):
        last_seen(db, host, 2 * HOUR)


def _hosts(services):
    return sorted(s['host'] for s in services)


def test_dry_run_lists_and_changes_nothing(rpcapi, ctxt, fleet):
    assert _hosts(rpcapi.service_purge(ctxt, HOUR, dry_run=True)) == [
        'gone1', 'gone2']
    assert _hosts(rpcapi.service_get_all(ctxt)) == ['cn1', 'gone1', 'gone2']


def test_purge_deletes_the_stale_and_caches_hear_of_it(rpcapi, ctxt, fleet):
    cache = versioncache.VersionCache(rpcapi, ttl=600)
    cache.start()
    try:
        assert cache.min_version(ctxt, 'nova-compute') == 1
        purged = rpcapi.service_purge(ctxt, HOUR)
        assert _hosts(purged) == ['gone1', 'gone2']
        assert _hosts(rpcapi.service_get_all(ctxt)) == ['cn1']
        wait_for(lambda: cache.min_version(ctxt, 'nova-compute') == 2)
    finally:
        cache.stop()
    # A purged service that comes back learns it was deleted.
    uuid = purged[0]['uuid']
    result = rpcapi.register_service(ctxt, report(purged[0]['host'],
                                                  uuid=uuid))
    assert result['outcome'] == 'deleted'
    assert rpcapi.service_purge(ctxt, HOUR) == []


def test_a_service_that_reported_since_it_was_chosen_stays(db, fleet):
    service = models.Service.__table__
    with db.get_engine().connect() as connection:
        ids = dict(connection.execute(sa.select(service.c.host,
                                                service.c.id)).all())
    chosen = [ids['gone1'], ids['gone2']]
    last_seen(db, 'gone2', 0)  # it reported after all
    now = timeutils.utcnow()
    deleted = db.service_destroy_silent(
        chosen, now - datetime.timedelta(hours=1), now)
    assert [(row.id, row.host) for row in deleted] == [(ids['gone1'],
                                                        'gone1')]


@pytest.mark.parametrize('down_for,dry_run,field', [
    (2, False, 'down_for'), (-1, False, 'down_for'), ('1h', False,
                                                      'down_for'),
    (HOUR, 'yes', 'dry_run')])
def test_bad_arguments_are_refused(rpcapi, ctxt, fleet, down_for, dry_run,
                                   field):
    with pytest.raises(exception.Invalid) as info:
        rpcapi.service_purge(ctxt, down_for, dry_run)
    assert field in str(info.value)
    assert len(rpcapi.service_get_all(ctxt)) == 3


def test_cli(capsys, rpcapi, ctxt, fleet):
    code, out, _ = run(manage.main, ['service', 'purge', '--down-for', '1h',
                                     '--dry-run'], capsys)
    assert code == 0
    assert out.splitlines()[-1] == 'Would delete 2 service(s).'
    code, out, _ = run(manage.main, ['service', 'purge', '--down-for', '1h',
                                     '--format', 'json'], capsys)
    assert code == 0
    assert _hosts(json.loads(out)) == ['gone1', 'gone2']
    code, out, _ = run(manage.main, ['service', 'purge', '--down-for',
                                     '1h'], capsys)
    assert out.splitlines()[-1] == 'Deleted 0 service(s).'


def test_cli_errors_are_one_line(capsys, rpcapi):
    code, _, err = run(manage.main, ['service', 'purge'], capsys)
    assert code == 2
    assert_one_line_error(err)
    code, _, err = run(manage.main, ['service', 'purge', '--down-for', '1'],
                       capsys)
    assert code == 1
    assert_one_line_error(err)
    assert 'at least service_down_time' in err
