"""The Overseerr user a MediaNest user's requests are made as (set by an admin).

Revision ID: ov_1
Revises: yx_1
Create Date: 2026-11-29 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ov_1"
down_revision = "yx_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("overseerr_user_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("overseerr_user_id")
