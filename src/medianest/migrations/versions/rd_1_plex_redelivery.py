"""A completed download's pending Plex delivery: delivered again at the next change.

Revision ID: rd_1
Revises: al_1
Create Date: 2026-12-07 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from medianest.db.base import UTCDateTime

revision = "rd_1"
down_revision = "al_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("youtube_downloads") as batch:
        batch.add_column(
            sa.Column("plex_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("plex_due_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("plex_claimed_until", UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_youtube_downloads_plex_due_at", "youtube_downloads", ["plex_due_at"])


def downgrade() -> None:
    op.drop_index("ix_youtube_downloads_plex_due_at", table_name="youtube_downloads")
    with op.batch_alter_table("youtube_downloads") as batch:
        batch.drop_column("plex_claimed_until")
        batch.drop_column("plex_due_at")
        batch.drop_column("plex_pending")
