"""Whoever chose to hear that a request was declined also hears that it was removed in
Overseerr (`request.removed`, new with the removed status): added after
`request.declined` in every channel's events and every centre choice that has it.
Both mean "this request will not come"; without this, a request deleted in Overseerr
reached none of the channels set up before the event existed.

Revision ID: nr_1
Revises: pp_1
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from medianest.db.base import JSONColumn

revision = "nr_1"
down_revision = "pp_1"
branch_labels = None
depends_on = None

DECLINED, REMOVED = "request.declined", "request.removed"

# Key and event-list columns of each table holding event choices; read and written as
# JSON values in Python, so one path serves SQLite's JSON and PostgreSQL's JSONB.
_CHOICES = (
    sa.table(
        "notification_channels", sa.column("id", sa.Uuid()), sa.column("events", JSONColumn())
    ),
    sa.table(
        "notification_settings",
        sa.column("user_id", sa.Uuid()),
        sa.column("centre_events", JSONColumn()),
    ),
)


def with_removed(events: Any) -> list[Any] | None:
    """`events` with REMOVED right after DECLINED; None when nothing changes (no list,
    DECLINED not chosen, or REMOVED chosen already)."""
    if not isinstance(events, list) or DECLINED not in events or REMOVED in events:
        return None
    at = events.index(DECLINED) + 1
    return [*events[:at], REMOVED, *events[at:]]


def upgrade() -> None:
    bind = op.get_bind()
    for table in _CHOICES:
        key, events = table.c  # (id or user_id, the JSON list)
        for row_key, chosen in bind.execute(sa.select(key, events)).all():
            if (changed := with_removed(chosen)) is not None:
                bind.execute(table.update().where(key == row_key).values({events.name: changed}))


def downgrade() -> None:
    """Nothing: an added `request.removed` cannot be told from one a person ticked, and
    the code at `pp_1` knows the event already."""
