"""A service's write-only password (Uptime Kuma's live connection signs in with it),
stored AES-GCM encrypted like the API key.

Revision ID: uk_1
Revises: nt_1
Create Date: 2026-12-04 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "uk_1"
down_revision = "nt_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_config") as batch:
        batch.add_column(sa.Column("password", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("service_config") as batch:
        batch.drop_column("password")
