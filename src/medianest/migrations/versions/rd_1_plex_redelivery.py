"""A completed download's pending Plex delivery: delivered again at the next change.

Downloads that completed with a Plex note before (the library not shared with their user,
Plex failing) are pending from now on, so the next change of the shares delivers them too.

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

# The notes the worker wrote when it delivered nothing (visibility.note_for, handoff.py).
NOTES = ("Downloaded, but not delivered to Plex", "Downloaded, but the Plex collection was not")


def upgrade() -> None:
    with op.batch_alter_table("youtube_downloads") as batch:
        batch.add_column(
            sa.Column("plex_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("plex_due_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("plex_claimed_until", UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_youtube_downloads_plex_due_at", "youtube_downloads", ["plex_due_at"])
    downloads = sa.table(
        "youtube_downloads",
        sa.column("status", sa.String()),
        sa.column("error", sa.Text()),
        sa.column("plex_pending", sa.Boolean()),
    )
    op.execute(
        downloads.update()
        .where(
            downloads.c.status == "completed",
            sa.or_(*(downloads.c.error.like(f"{note}%") for note in NOTES)),
        )
        .values(plex_pending=True)
    )


def downgrade() -> None:
    op.drop_index("ix_youtube_downloads_plex_due_at", table_name="youtube_downloads")
    with op.batch_alter_table("youtube_downloads") as batch:
        batch.drop_column("plex_claimed_until")
        batch.drop_column("plex_due_at")
        batch.drop_column("plex_pending")
