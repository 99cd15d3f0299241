"""Who chose a user's Overseerr link: an admin, or the automatic match by Plex account.

Links stored before were all made by an admin, so they are marked as theirs and never
replaced automatically.

Revision ID: al_1
Revises: nr_1
Create Date: 2026-12-07 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "al_1"
down_revision = "nr_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("overseerr_link", sa.String(length=16), nullable=True))
    op.execute("UPDATE users SET overseerr_link = 'admin' WHERE overseerr_user_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("overseerr_link")
