"""The version bounds query with and without the dead-service filter.

Seeds 10,000 services of one binary (1 in 100 at an older version, 1 in
1,000 silent for three days) in a scratch database on MariaDB and on
PostgreSQL (the functional tests' servers, after tools/test-setup.sh),
then times each form of the per-binary subquery 300 times and prints
p50 / p99 and, on MariaDB, the plan. doc/upgrades.rst has the results.

    python tools/bench_version_bounds.py
"""

import datetime
import os
import sys
import time

import sqlalchemy as sa

from sgconductor.db.sqlalchemy import models

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from tests.functional import databases  # noqa: E402

SERVICES = 10000
RUNS = 300
SCRATCH = 'sgconductor_bench_bounds'


def seed(engine, now):
    models.Base.metadata.create_all(engine)
    rows = [dict(uuid='%036d' % i, host='h%05d' % i, binary='nova-compute',
                 version=4 if i % 100 == 0 else 5, report_count=1,
                 disabled=False, forced_down=False, deleted=0,
                 last_seen_up=now - datetime.timedelta(
                     days=3 if i % 1000 == 0 else 0))
            for i in range(SERVICES)]
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
        'ORDER BY ... LIMIT 1': sa.select(service.c.version)
        .where(*live, alive).order_by(service.c.version)
        .limit(sa.literal_column('1')),
    }


def bench(backend):
    admin = databases.admin_url(backend)
    admin_engine = sa.create_engine(admin)
    with admin_engine.connect().execution_options(
            isolation_level='AUTOCOMMIT') as connection:
        connection.execute(sa.text('DROP DATABASE IF EXISTS ' + SCRATCH))
        connection.execute(sa.text('CREATE DATABASE ' + SCRATCH))
    engine = sa.create_engine(admin.set(database=SCRATCH))
    now = datetime.datetime.utcnow()
    try:
        seed(engine, now)
        since = now - datetime.timedelta(days=1)
        with engine.connect() as connection:
            for name, query in forms(since).items():
                statement = sa.select(query.scalar_subquery())
                times = []
                for _ in range(RUNS):
                    started = time.perf_counter()
                    connection.execute(statement).scalar()
                    times.append(time.perf_counter() - started)
                times.sort()
                print('%-10s  %-26s %.3f / %.3f ms' % (
                    backend, name, times[RUNS // 2] * 1e3,
                    times[int(RUNS * 0.99)] * 1e3))
                if backend == 'mysql':
                    plan = connection.exec_driver_sql(
                        'EXPLAIN ' + str(statement.compile(
                            engine, compile_kwargs={'literal_binds': True})
                        ).replace('%%', '%'), ()).all()
                    print('            plan: %s' % plan[-1][-1])
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
        bench(backend)


if __name__ == '__main__':
    main()
