# SPDX-License-Identifier: Apache-2.0
"""SQLAlchemy model of the services table.

Soft delete follows Nova: ``deleted`` is 0 for a live row and the row's id
once deleted, so (host, binary, deleted) stays unique while any number of
deleted rows for the same host and binary are kept for history.
"""

from oslo_db.sqlalchemy import models
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import Column
from sqlalchemy import DateTime
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import orm
from sqlalchemy.dialects import mysql


def _name():
    """Up to 255 characters, compared byte for byte.

    MySQL's default collation ignores case and trailing spaces: 'cn1',
    'CN1' and 'cn1 ' would be one service there and three elsewhere.
    """
    return String(255).with_variant(
        mysql.VARCHAR(255, collation='utf8mb4_bin'), 'mysql', 'mariadb')


class Base(models.ModelBase, orm.DeclarativeBase):
    pass


class Service(models.TimestampMixin, models.SoftDeleteMixin, Base):
    __tablename__ = 'services'
    __table_args__ = (
        UniqueConstraint('host', 'binary', 'deleted',
                         name='uniq_services0host0binary0deleted'),
        UniqueConstraint('uuid', name='uniq_services0uuid'),
        # Serves MIN/MAX(version) of the live, not forced-down services of
        # a binary: walked in version order up to the first row that is
        # not dead (db/sqlalchemy/api.py, _version_bounds).
        Index('services_binary_deleted_forced_down_version_idx',
              'binary', 'deleted', 'forced_down', 'version'),
        {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'},
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    uuid = Column(String(36), nullable=False)
    host = Column(_name(), nullable=False)
    binary = Column(_name(), nullable=False)
    topic = Column(String(255), nullable=True)
    availability_zone = Column(String(255), nullable=True)
    report_count = Column(Integer, nullable=False, default=0)
    disabled = Column(Boolean, nullable=False, default=False)
    disabled_reason = Column(String(255), nullable=True)
    forced_down = Column(Boolean, nullable=False, default=False)
    last_seen_up = Column(DateTime, nullable=True)
    version = Column(Integer, nullable=False, default=0)
    # 'up' or 'down': what the last service.state notification said (or,
    # before the first, the first judgement), so that each transition is
    # notified once, by one conductor (statewatch.py).
    notified_state = Column(String(8), nullable=True)
    # Seconds the service's clock was ahead of the conductor's (negative:
    # behind) when it last registered; None if it did not say. Liveness
    # never depends on it: the conductor stamps every report itself.
    clock_skew = Column(Integer, nullable=True)


class ReportProgress(Base):
    """One row: every report sent before ``read_until`` (the conductor's
    clock) has been read by a heartbeat intake and is in the services
    table. Liveness is judged as of that moment, so a conductor that is
    behind on its queue, or cannot reach the broker, does not call
    services down for reports it has not read yet (doc/liveness.rst says
    how far that holds with several intakes)."""

    __tablename__ = 'report_progress'
    __table_args__ = ({'mysql_engine': 'InnoDB',
                       'mysql_charset': 'utf8mb4'},)

    id = Column(Integer, primary_key=True, autoincrement=False)
    read_until = Column(DateTime, nullable=True)


class ReportIntake(Base):
    """One row per heartbeat intake process (conductor/progress.py):
    whether it may hold heartbeats not written yet, up to which mark
    every report it took is written, and when it last said so (the
    conductor's clock). Services are judged as of the oldest progress of
    the holders that wrote recently (``reports_judged_as_of``)."""

    __tablename__ = 'report_intakes'
    __table_args__ = ({'mysql_engine': 'InnoDB',
                       'mysql_charset': 'utf8mb4'},)

    id = Column(Integer, primary_key=True, autoincrement=True)
    host = Column(String(255), nullable=False)
    holding = Column(Boolean, nullable=False, default=False)
    read_until = Column(DateTime, nullable=True)
    seen_at = Column(DateTime, nullable=False)


class ConductorCounter(Base):
    """What a conductor process counts, cumulative, for /metrics (each
    process writes only its own rows): the counts of its tallies
    (sgconductor/tally.py) by name and reason."""

    __tablename__ = 'conductor_counters'
    __table_args__ = ({'mysql_engine': 'InnoDB',
                       'mysql_charset': 'utf8mb4'},)

    host = Column(String(255), primary_key=True)
    # Which process of the host: its kind and worker number
    # (service.py).
    process = Column(String(64), primary_key=True)
    name = Column(String(64), primary_key=True)
    reason = Column(String(64), primary_key=True)
    value = Column(BigInteger, nullable=False, default=0)
