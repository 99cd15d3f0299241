"""Which client used a remember-me token (a hash of its address and browser), for the
grace window in which the same client may present the just-rotated token again.

Revision ID: rm_1
Revises: uk_1
Create Date: 2026-12-04 18:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rm_1"
down_revision = "uk_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("session_tokens") as batch:
        batch.add_column(sa.Column("used_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session_tokens") as batch:
        batch.drop_column("used_by")
