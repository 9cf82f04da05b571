# SPDX-License-Identifier: Apache-2.0
"""Report intakes: the progress of each heartbeat intake.

Revision ID: e5c1f0a20005
Revises: d2a7b8c90004
Create Date: 2026-12-07 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = 'e5c1f0a20005'
down_revision = 'd2a7b8c90004'
branch_labels = None
depends_on = None


def upgrade():
    # Expand only: conductors of the previous release read and move
    # report_progress alone, which every intake still moves forward too.
    op.create_table(
        'report_intakes',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('holding', sa.Boolean(), nullable=False),
        sa.Column('read_until', sa.DateTime(), nullable=True),
        sa.Column('seen_at', sa.DateTime(), nullable=False),
        mysql_engine='InnoDB',
        mysql_charset='utf8mb4',
    )
