"""A subscription's Plex delivery choice (private playlist or shared collection).

Revision ID: yx_1
Revises: yt_1
Create Date: 2026-11-25 12:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "yx_1"
down_revision = "yt_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("youtube_subscriptions") as batch:
        batch.add_column(sa.Column("delivery", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("youtube_subscriptions") as batch:
        batch.drop_column("delivery")
