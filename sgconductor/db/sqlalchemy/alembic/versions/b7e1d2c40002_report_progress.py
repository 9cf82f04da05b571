# SPDX-License-Identifier: Apache-2.0
"""Report progress: how far the heartbeat intake has read.

Revision ID: b7e1d2c40002
Revises: a1f3c0de0001
Create Date: 2026-11-24 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = 'b7e1d2c40002'
down_revision = 'a1f3c0de0001'
branch_labels = None
depends_on = None


def upgrade():
    progress = op.create_table(
        'report_progress',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column('read_until', sa.DateTime(), nullable=True),
        mysql_engine='InnoDB',
        mysql_charset='utf8mb4',
    )
    # The one row every intake moves forward.
    op.bulk_insert(progress, [{'id': 1, 'read_until': None}])
