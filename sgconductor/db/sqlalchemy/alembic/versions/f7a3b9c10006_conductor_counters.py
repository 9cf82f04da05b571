# SPDX-License-Identifier: Apache-2.0
"""Conductor counters: what each conductor process counts, for /metrics.

Revision ID: f7a3b9c10006
Revises: e5c1f0a20005
Create Date: 2026-12-07 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = 'f7a3b9c10006'
down_revision = 'e5c1f0a20005'
branch_labels = None
depends_on = None


def upgrade():
    # Expand only: conductors of the previous release ignore it.
    op.create_table(
        'conductor_counters',
        sa.Column('host', sa.String(255), primary_key=True),
        sa.Column('process', sa.String(64), primary_key=True),
        sa.Column('name', sa.String(64), primary_key=True),
        sa.Column('reason', sa.String(64), primary_key=True),
        sa.Column('value', sa.BigInteger(), nullable=False),
        mysql_engine='InnoDB',
        mysql_charset='utf8mb4',
    )
