# SPDX-License-Identifier: Apache-2.0
"""Clock skew: how far a service's clock was from the conductor's.

Revision ID: d2a7b8c90004
Revises: c9d4e5f60003
Create Date: 2026-11-24 15:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = 'd2a7b8c90004'
down_revision = 'c9d4e5f60003'
branch_labels = None
depends_on = None


def upgrade():
    # Expand only: conductors of the previous release ignore the column.
    op.add_column('services', sa.Column('clock_skew', sa.Integer,
                                        nullable=True))
