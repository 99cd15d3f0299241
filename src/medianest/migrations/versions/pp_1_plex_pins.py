"""Plex sign-ins in progress live in the database (they were in the cache, and a Redis
outage between creating and approving a PIN lost the sign-in).

Revision ID: pp_1
Revises: rm_1
Create Date: 2026-12-04 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from medianest.db.base import UTCDateTime

revision = "pp_1"
down_revision = "rm_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plex_pins",
        sa.Column("pin_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("binding_hash", sa.String(length=64), nullable=False),
        sa.Column("remember_me", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pin_id", name=op.f("pk_plex_pins")),
    )
    op.create_index("ix_plex_pins_expires_at", "plex_pins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_plex_pins_expires_at", table_name="plex_pins")
    op.drop_table("plex_pins")
