# SPDX-License-Identifier: Apache-2.0
"""Notified state: what the last service.state notification said.

Revision ID: c9d4e5f60003
Revises: b7e1d2c40002
Create Date: 2026-11-24 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = 'c9d4e5f60003'
down_revision = 'b7e1d2c40002'
branch_labels = None
depends_on = None


def upgrade():
    # Expand only: conductors of the previous release ignore the column.
    op.add_column('services', sa.Column('notified_state', sa.String(8),
                                        nullable=True))
