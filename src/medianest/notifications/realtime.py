"""Telling a user's open tabs (on every device and instance) the new unread count."""

from __future__ import annotations

import uuid

from medianest.context import AppContext

READ_EVENT = "notification:read"
NEW_EVENT = "notification:new"


async def announce_unread(ctx: AppContext, user_id: uuid.UUID, unread: int) -> None:
    """After the commit: every socket in the user's room re-draws its bell."""
    await ctx.realtime.emit_to_user(user_id, READ_EVENT, {"unread": unread})
