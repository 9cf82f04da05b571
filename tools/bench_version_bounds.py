# SPDX-License-Identifier: Apache-2.0
"""The version bounds query with and without the dead-service filter.

Seeds 10,000 services of one binary in a scratch database on MariaDB and
on PostgreSQL (the functional tests' servers, after tools/test-setup.sh),
twice: "typical" (1 in 100 at an older version, 1 in 1,000 silent for
three days) and "worst" (1,000 dead services, all at the lowest version:
the decommissioned nodes the filter exists for, which the index walk
must step over). Times each form of the per-binary subquery, the last
being the conductor's own statement, 300 times and prints p50 / p99 and,
on MariaDB, the plan. doc/upgrades.rst has the results.

    python tools/bench_version_bounds.py
"""

import datetime
import os
import sys
import time

import sqlalchemy as sa

from sgconductor.db.sqlalchemy import api as sa_api
from sgconductor.db.sqlalchemy import models

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from tests.functional import databases  # noqa: E402

SERVICES = 10000
RUNS = 300
SCRATCH = 'sgconductor_bench_bounds'


# scenario -> service number -> (version, dead?)
SCENARIOS = {
    'typical': lambda i: (4 if i % 100 == 0 else 5, i % 1000 == 0),
    'worst': lambda i: (3, True) if i < 1000 else (5, False),
}


def seed(engine, now, scenario):
    models.Base.metadata.drop_all(engine)
    models.Base.metadata.create_all(engine)
    rows = []
    for i in range(SERVICES):
        version, dead = SCENARIOS[scenario](i)
        rows.append(dict(
            uuid='%036d' % i, host='h%05d' % i, binary='nova-compute',
            version=version, report_count=1, disabled=False,
            forced_down=False, deleted=0,
            last_seen_up=now - datetime.timedelta(days=3 if dead else 0)))
    with engine.begin() as connection:
        connection.execute(models.Service.__table__.insert(), rows)
    analyze = ('VACUUM ANALYZE services' if engine.dialect.name ==
               'postgresql' else 'ANALYZE TABLE services')
    with engine.connect().execution_options(
            isolation_level='AUTOCOMMIT') as connection:
        connection.execute(sa.text(analyze))


def forms(since):
    service = models.Service.__table__
    live = [service.c.binary == 'nova-compute',
            service.c.deleted == sa.literal_column('0'),
            service.c.forced_down == sa.false()]
    alive = service.c.last_seen_up >= sa.bindparam('since', since)
    return {
        'MIN, no dead filter': sa.select(sa.func.min(service.c.version))
        .where(*live),
        'MIN with the dead filter': sa.select(
            sa.func.min(service.c.version)).where(*live, alive),
    }


def timed(connection, statement, params):
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        connection.execute(statement, params).scalar()
        times.append(time.perf_counter() - started)
    times.sort()
    return times[RUNS // 2] * 1e3, times[int(RUNS * 0.99)] * 1e3


def bench(backend, scenario):
    admin = databases.admin_url(backend)
    admin_engine = sa.create_engine(admin)
    with admin_engine.connect().execution_options(
            isolation_level='AUTOCOMMIT') as connection:
        connection.execute(sa.text('DROP DATABASE IF EXISTS ' + SCRATCH))
        connection.execute(sa.text('CREATE DATABASE ' + SCRATCH))
    engine = sa.create_engine(admin.set(database=SCRATCH))
    now = datetime.datetime.utcnow()
    since = now - datetime.timedelta(days=1)
    try:
        seed(engine, now, scenario)
        with engine.connect() as connection:
            for name, query in forms(since).items():
                statement = sa.select(query.scalar_subquery())
                print('%-10s  %-8s %-26s %.3f / %.3f ms' % (
                    (backend, scenario, name)
                    + timed(connection, statement, {})))
                if backend == 'mysql':
                    plan = connection.exec_driver_sql(
                        'EXPLAIN ' + str(statement.compile(
                            engine, compile_kwargs={'literal_binds': True})
                        ).replace('%%', '%'), ()).all()
                    print('                     plan: %s' % plan[-1][-1])
            print('%-10s  %-8s %-26s %.3f / %.3f ms' % (
                (backend, scenario, 'the conductor\'s statement')
                + timed(connection, sa_api._version_bounds_statement(
                    'min', 1), {'binary0': 'nova-compute',
                                'alive_since': since})))
    finally:
        engine.dispose()
        with admin_engine.connect().execution_options(
                isolation_level='AUTOCOMMIT') as connection:
            connection.execute(sa.text('DROP DATABASE IF EXISTS ' + SCRATCH))
        admin_engine.dispose()


def main():
    print('%d services of one binary, %d runs each: p50 / p99' % (
        SERVICES, RUNS))
    for backend in ('mysql', 'postgresql'):
        for scenario in SCENARIOS:
            bench(backend, scenario)


if __name__ == '__main__':
    main()
