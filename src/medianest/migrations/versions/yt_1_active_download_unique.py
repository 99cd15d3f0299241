"""One active download per user and URL (a partial unique index).

Revision ID: yt_1
Revises: 0001
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "yt_1"
down_revision = "0001"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('queued', 'downloading', 'processing')"


def upgrade() -> None:
    op.create_index(
        "uq_youtube_downloads_active_url",
        "youtube_downloads",
        ["user_id", "url"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_youtube_downloads_active_url", table_name="youtube_downloads")
