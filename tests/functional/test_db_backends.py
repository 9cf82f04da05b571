# SPDX-License-Identifier: Apache-2.0
"""The storage API on real MariaDB and PostgreSQL, where they differ from
SQLite."""

import datetime
import threading

import pytest

from sgconductor.db import api as db_api
from sgconductor.db import migration
from sgconductor.db.sqlalchemy import api as sa_api

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0)


@pytest.fixture
def dbapi(database):
    sa_api.configure(connection=database.render_as_string(
        hide_password=False))
    migration.upgrade()
    yield sa_api
    sa_api.configure()


def report(host, binary='nova-compute', version=1):
    return {'host': host, 'binary': binary, 'topic': binary,
            'version': version, 'availability_zone': 'nova'}


def test_names_that_differ_in_case_are_different_services(dbapi):
    """MySQL's default collation would make these one row."""
    for host in ('cn1', 'CN1', 'Cn1'):
        dbapi.service_upsert(report(host), NOW)
    assert sorted(s.host for s in dbapi.service_get_all()) == [
        'CN1', 'Cn1', 'cn1']


def test_four_byte_characters_are_stored(dbapi):
    service, _ = dbapi.service_upsert(report('cn-\U0001f680'), NOW)
    assert dbapi.service_get_all()[0].host == 'cn-\U0001f680'
    assert service.host == 'cn-\U0001f680'


def test_racing_first_registrations_make_one_row(dbapi):
    outcomes = []

    def register():
        outcomes.append(dbapi.service_upsert(report('racer'), NOW)[1])

    threads = [threading.Thread(target=register) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (service,) = dbapi.service_get_all()
    assert service.report_count == 16
    assert outcomes.count(db_api.CREATED) == 1


def test_racing_batches_of_registrations_make_one_row_each(dbapi):
    """Two conductors writing overlapping batches of registrations, in
    opposite orders, at once: every report is counted exactly once, one
    row per service, whatever lock waits or deadlocks the database
    resolved on the way."""
    hosts = ['h%03d' % i for i in range(200)]
    errors = []

    def register(order):
        try:
            for start in range(0, len(order), 50):
                dbapi.service_upsert_many(
                    [(report(host), None) for host in order[start:start + 50]],
                    NOW)
        except Exception as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(order,))
               for order in (hosts, hosts[::-1], hosts[50:] + hosts[:50])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    services = dbapi.service_get_all()
    assert sorted(s.host for s in services) == hosts
    assert {s.report_count for s in services} == {3}


def test_batched_heartbeats(dbapi):
    """One flush of coalesced heartbeats: exact counts, time only forward,
    deleted rows untouched and reported back."""
    ids = {host: dbapi.service_upsert(report(host), NOW)[0].id
           for host in ('a', 'b', 'c', 'gone')}
    dbapi.service_destroy({'host': 'gone', 'binary': 'nova-compute'},
                          NOW)
    later = NOW + datetime.timedelta(seconds=10)
    earlier = NOW - datetime.timedelta(seconds=10)
    gone = dbapi.service_record_heartbeats({
        ids['a']: (3, later), ids['b']: (3, later), ids['c']: (1, earlier),
        ids['gone']: (5, later)})
    assert gone == {ids['gone']}
    services = {s.host: s for s in dbapi.service_get_all()}
    assert {h: s.report_count for h, s in services.items()} == {
        'a': 4, 'b': 4, 'c': 2}
    assert {h: s.last_seen_up for h, s in services.items()} == {
        'a': later, 'b': later, 'c': NOW}
