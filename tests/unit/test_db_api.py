# SPDX-License-Identifier: Apache-2.0
import datetime

import pytest

from sgconductor import exception
from sgconductor.db import api as db_api
from sgconductor.db.sqlalchemy import api as sa_api
from tests.inprocess import report
from tests.inprocess import statements
from tests.inprocess import verbs

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0)


def _compute(host):
    """The key of nova-compute on ``host`` for service_update/destroy."""
    return {'host': host, 'binary': 'nova-compute'}


def test_notified_state_is_compare_and_set(db):
    service, _ = upsert(db)
    first = db.service_set_notified_states([(service.id, None, 'up')])
    assert [(row.id, row.notified_state, old) for row, old in first] == [
        (service.id, 'up', None)]
    # A second conductor that judged the same change gets nothing back.
    assert db.service_set_notified_states([(service.id, None, 'up')]) == []
    moved = db.service_set_notified_states([(service.id, 'up', 'down')])
    assert [(row.notified_state, old) for row, old in moved] == [
        ('down', 'up')]
    assert moved[0][0].updated_at == first[0][0].updated_at
    assert db.service_set_notified_states([(service.id, 'up', 'down')]) == []
    db.service_destroy(_compute('host1'), NOW)
    assert db.service_set_notified_states([(service.id, 'down', 'up')]) == []


# alive_since of the version bounds: a day before NOW.
DAY_AGO = NOW - datetime.timedelta(days=1)


def upsert(dbapi, host='host1', binary='nova-compute', version=1, uuid=None,
           now=NOW):
    values = report(host, binary, version)
    return dbapi.service_upsert(values, now, uuid)


def test_first_report_creates_a_row(db):
    service, outcome = upsert(db)
    assert outcome == db_api.CREATED
    assert service.report_count == 1
    assert service.last_seen_up == NOW
    assert service.uuid and service.id
    assert not service.disabled and not service.forced_down


def test_reports_update_the_row_and_count_exactly(db):
    first, _ = upsert(db)
    later = NOW + datetime.timedelta(seconds=10)
    for _ in range(4):
        service, outcome = upsert(db, version=2, now=later)
    assert outcome == db_api.UPDATED
    assert service.id == first.id
    assert service.report_count == 5
    assert service.version == 2
    assert service.last_seen_up == later
    assert len(db.service_get_all()) == 1


def test_report_of_a_deleted_uuid_does_not_resurrect(db):
    service, _ = upsert(db)
    db.service_destroy(_compute('host1'), NOW)
    again, outcome = upsert(db, uuid=service.uuid)
    assert (again, outcome) == (None, db_api.DELETED)
    assert db.service_get_all() == []


def test_a_restarted_service_registers_again_after_delete(db):
    old, _ = upsert(db)
    db.service_destroy(_compute('host1'), NOW)
    new, outcome = upsert(db)
    assert outcome == db_api.CREATED
    assert new.id != old.id and new.uuid != old.uuid


def test_get_all_filters(db):
    upsert(db, host='a', binary='nova-compute')
    upsert(db, host='b', binary='nova-compute')
    upsert(db, host='a', binary='nova-scheduler')
    assert len(db.service_get_all()) == 3
    assert {s.binary for s in db.service_get_all(host='a')} == {
        'nova-compute', 'nova-scheduler'}
    assert {s.host for s in db.service_get_all(binary='nova-compute')} == {
        'a', 'b'}
    assert db.service_get_all(host='a', binary='nova-compute')[0].host == 'a'


def test_update_and_not_found(db):
    upsert(db)
    service = db.service_update(_compute('host1'),
                                {'disabled': True, 'disabled_reason': 'x'})
    assert service.disabled and service.disabled_reason == 'x'
    with pytest.raises(exception.ServiceNotFound):
        db.service_update(_compute('nope'), {'disabled': True})
    with pytest.raises(exception.ServiceNotFound):
        db.service_destroy(_compute('nope'), NOW)


def test_min_max_versions_skip_deleted_and_forced_down(db):
    upsert(db, host='a', version=3)
    upsert(db, host='b', version=5)
    upsert(db, host='c', version=1)
    upsert(db, host='d', version=9)
    upsert(db, host='s', binary='nova-scheduler', version=7)
    db.service_destroy(_compute('c'), NOW)
    db.service_update(_compute('d'), {'forced_down': True})
    binaries = ['nova-compute', 'nova-scheduler', 'nova-api']
    assert db.service_get_min_versions(binaries, DAY_AGO) == {
        'nova-compute': 3, 'nova-scheduler': 7, 'nova-api': None}
    assert db.service_get_max_versions(binaries, DAY_AGO) == {
        'nova-compute': 5, 'nova-scheduler': 7, 'nova-api': None}


def test_min_version_is_one_aggregate_statement(db):
    for i in range(20):
        upsert(db, host='h%d' % i, version=i + 1)
    with statements(db) as seen:
        assert db.service_get_min_versions(['nova-compute'], DAY_AGO) == {
            'nova-compute': 1}
    selects = [s for s in seen if s.upper().startswith('SELECT')]
    assert len(selects) == 1
    # One MIN per binary, the first entry of the index in version order,
    # not a GROUP BY that reads every row of the binary.
    assert 'order by services.version asc' in selects[0].lower()
    assert 'limit' in selects[0].lower()
    assert 'group by' not in selects[0].lower()


def test_dead_services_do_not_count_for_the_version_bounds(db):
    upsert(db, host='gone', version=1, now=DAY_AGO - datetime.timedelta(
        seconds=1))
    upsert(db, host='just-in-time', version=2, now=DAY_AGO)
    upsert(db, host='fresh', version=4)
    upsert(db, host='gone-new', version=9, now=DAY_AGO - datetime.timedelta(
        days=30))
    assert db.service_get_min_versions(['nova-compute'], DAY_AGO) == {
        'nova-compute': 2}
    assert db.service_get_max_versions(['nova-compute'], DAY_AGO) == {
        'nova-compute': 4}
    # Alive again as soon as it reports.
    upsert(db, host='gone', version=1)
    assert db.service_get_min_versions(['nova-compute'], DAY_AGO) == {
        'nova-compute': 1}
    assert sorted(db.service_get_binaries()) == ['nova-compute']


def test_version_bounds_of_several_binaries_in_one_call(db):
    upsert(db, host='a', version=3)
    upsert(db, host='b', version=5)
    upsert(db, host='c', binary='nova-scheduler', version=7)
    binaries = ['nova-compute', 'nova-api', 'nova-scheduler', 'nova-compute']
    assert db.service_get_min_versions(binaries, DAY_AGO) == {
        'nova-compute': 3, 'nova-api': None, 'nova-scheduler': 7}
    assert db.service_get_max_versions(binaries, DAY_AGO) == {
        'nova-compute': 5, 'nova-api': None, 'nova-scheduler': 7}


def test_unreachable_database_raises_database_unavailable(conf):
    from sgconductor.db.sqlalchemy import api as sa_api
    sa_api.configure(connection='sqlite:////nonexistent/dir/x.sqlite',
                     max_retries=0)
    try:
        with pytest.raises(exception.DatabaseUnavailable):
            sa_api.service_get_all()
    finally:
        sa_api.configure()



def test_sqlite_writers_wait_for_the_write_lock_beyond_5_s(db):
    with sa_api.get_engine().begin() as connection:
        waits = connection.exec_driver_sql('PRAGMA busy_timeout').scalar()
    assert waits == sa_api.SQLITE_BUSY_TIMEOUT_MS > 5000


def test_upsert_many_creates_updates_and_refuses_deleted_in_one_call(db):
    kept, _ = upsert(db, host='kept')
    gone, _ = upsert(db, host='gone')
    db.service_destroy(_compute('gone'), NOW)
    later = NOW + datetime.timedelta(seconds=10)
    results = db.service_upsert_many([
        (report('kept', version=2), kept.uuid),
        (report('gone'), gone.uuid),
        (report('new'), None),
    ], later)
    assert [outcome for _, outcome in results] == [
        db_api.UPDATED, db_api.DELETED, db_api.CREATED]
    updated, deleted, created = (service for service, _ in results)
    assert deleted is None
    assert (updated.id, updated.version, updated.report_count,
            updated.last_seen_up) == (kept.id, 2, 2, later)
    assert (created.host, created.report_count) == ('new', 1)
    assert sorted(s.host for s in db.service_get_all()) == ['kept', 'new']


def test_upsert_many_applies_reports_of_one_service_in_order(db):
    results = db.service_upsert_many(
        [(report('h1', version=v), None) for v in (1, 2, 3)], NOW)
    assert [outcome for _, outcome in results] == [
        db_api.CREATED, db_api.UPDATED, db_api.UPDATED]
    assert [service.version for service, _ in results] == [1, 2, 3]
    (service,) = db.service_get_all()
    assert (service.report_count, service.version) == (3, 3)


def test_an_earlier_report_written_later_does_not_move_time_back(db):
    """A report kept while the database was away is written as of when
    it arrived, after newer ones: its fields apply, its time does not."""
    later = NOW + datetime.timedelta(seconds=30)
    db.service_upsert_many([(report('h1'), None)], later)
    db.service_upsert_many([(report('h1', version=2), None)], NOW)
    (service,) = db.service_get_all()
    assert (service.version, service.report_count, service.last_seen_up,
            service.updated_at) == (2, 2, later, later)


@pytest.mark.parametrize('count', [10, 500])
def test_upsert_many_statements_do_not_grow_with_the_reports(db, count):
    """Registering many services, then re-registering them, takes the
    same few statements for 10 services as for 500."""
    batch = [(report('h%d' % i), None) for i in range(count)]
    with statements(db) as creating:
        db.service_upsert_many(batch, NOW)
    with statements(db) as updating:
        db.service_upsert_many(batch, NOW)
    # SELECT ... FOR UPDATE, INSERT, read back (+ BEGIN/PRAGMA on SQLite)
    assert verbs(creating).count('INSERT') == 1
    assert len(creating) <= 6
    # SELECT ... FOR UPDATE, one UPDATE for all, read back
    assert verbs(updating).count('UPDATE') == 1
    assert len(updating) <= 6
    assert {s.report_count for s in db.service_get_all()} == {2}
