"""A delivered download's content rating due: given the admin's rating in the background.

When the admin had already set "Content rating given to downloaded videos", the downloads
delivered before (with no rating, or before the setting existed) are due from now on, so
the workers give them the rating too (youtube/jobs/rerating.py).

Revision ID: rr_1
Revises: rd_1
Create Date: 2026-12-07 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from medianest.db.base import JSONType, UTCDateTime, utcnow

revision = "rr_1"
down_revision = "rd_1"
branch_labels = None
depends_on = None

RATING_KEY = "youtube_content_rating"  # youtube/delivery/ratings.py KEY
ROUND_KEY = "youtube_rerating"  # youtube/jobs/rerating.py ROUND_KEY


def upgrade() -> None:
    with op.batch_alter_table("youtube_downloads") as batch:
        batch.add_column(sa.Column("rating_due_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("rating_claimed_until", UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index("ix_youtube_downloads_rating_due_at", "youtube_downloads", ["rating_due_at"])
    settings = sa.table(
        "system_settings",
        sa.column("key", sa.String()),
        sa.column("value", JSONType),
        sa.column("updated_at", UTCDateTime(timezone=True)),
    )
    bind = op.get_bind()
    stored = bind.execute(sa.select(settings.c.value).where(settings.c.key == RATING_KEY))
    value = stored.scalar()
    if not (isinstance(value, dict) and value.get("rating")):
        return  # no rating set: nothing delivered is to be re-rated
    downloads = sa.table(
        "youtube_downloads",
        sa.column("status", sa.String()),
        sa.column("plex_pending", sa.Boolean()),
        sa.column("rating_due_at", UTCDateTime(timezone=True)),
    )
    marked = bind.execute(
        downloads.update()
        .where(downloads.c.status == "completed", downloads.c.plex_pending.is_(False))
        .values(rating_due_at=utcnow())
    ).rowcount
    bind.execute(settings.delete().where(settings.c.key == ROUND_KEY))
    bind.execute(
        settings.insert().values(key=ROUND_KEY, value={"total": marked}, updated_at=utcnow())
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM system_settings WHERE key = 'youtube_rerating'"))
    op.drop_index("ix_youtube_downloads_rating_due_at", table_name="youtube_downloads")
    with op.batch_alter_table("youtube_downloads") as batch:
        batch.drop_column("rating_claimed_until")
        batch.drop_column("rating_due_at")
