"""Admin user management: list, change role or status, delete.

The last active admin can be neither demoted, disabled nor deleted (409), so the
instance always keeps someone who can administer it. Disabling ends the user's
sessions and remember-me tokens at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.admin.schemas import UserChange
from medianest.auth import service as auth_service
from medianest.auth.models import OverseerrLink, Role, User, UserStatus
from medianest.auth.sessions import store as session_store
from medianest.context import AppContext
from medianest.core.errors import Conflict, NotFound, ValidationFailed
from medianest.integrations.overseerr import OverseerrClient
from medianest.media import overseerr_link
from medianest.platform import audit
from medianest.youtube.downloads import service as youtube_service


class LastAdmin(Conflict):
    code = "LAST_ADMIN"
    default_message = "This is the last active administrator; promote someone else first."


async def list_users(
    session: AsyncSession, *, search: str | None, page: int, page_size: int
) -> tuple[list[User], int]:
    statement = select(User)
    if search:
        escaped = search.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        pattern = f"%{escaped}%"
        statement = statement.where(
            or_(
                func.lower(User.username).like(pattern, escape="\\"),
                func.lower(User.email).like(pattern, escape="\\"),
            )
        )
    total = await session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = await session.scalars(
        statement.order_by(User.created_at, User.id).offset((page - 1) * page_size).limit(page_size)
    )
    return list(rows), int(total or 0)


async def get_user(session: AsyncSession, *, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def _ensure_not_last_admin(session: AsyncSession, *, user: User) -> None:
    """Refuse when `user` is the only active admin. The admin rows are locked (PostgreSQL)
    so two admins demoting each other at once cannot both succeed."""
    if not (user.is_admin and user.is_active):
        return
    admins = await session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN, User.status == UserStatus.ACTIVE)
        .with_for_update()
    )
    if len(list(admins)) <= 1:
        raise LastAdmin()


async def _require_overseerr_user(overseerr: OverseerrClient, overseerr_user_id: int) -> None:
    """A link must name a user Overseerr has (asked live; Overseerr down → 503)."""
    if not await overseerr.user_exists(overseerr_user_id):
        name = overseerr.http.display_name()
        raise ValidationFailed(
            f"{name} has no user {overseerr_user_id}. The id is the number in the user's "
            f"address in {name} (Users → the user).",
            details={"field": "overseerrUserId"},
        )


async def _change_link(
    user: User, change: UserChange, changes: dict[str, Any], overseerr: OverseerrClient | None
) -> None:
    """An admin's link, or their "no link" (final either way), or the automatic link
    handed back: no link until the next request finds one (media/overseerr_link.py)."""
    automatic = change.overseerr_link == "automatic"
    to = None if automatic else change.overseerr_user_id
    chosen_by = None if automatic else OverseerrLink.ADMIN
    if to is not None and to != user.overseerr_user_id and overseerr is not None:
        await _require_overseerr_user(overseerr, to)
    if to == user.overseerr_user_id and chosen_by == user.overseerr_link:
        return
    what: dict[str, Any] = {"from": user.overseerr_user_id, "to": to}
    if chosen_by != user.overseerr_link:  # one audit line a change, who chose it within
        what["chosenBy"] = {"from": user.overseerr_link, "to": chosen_by}
    changes["overseerr_user_id"] = what
    user.overseerr_user_id, user.overseerr_link = to, chosen_by


async def update_user(
    session: AsyncSession,
    *,
    by: audit.Actor,
    user: User,
    change: UserChange,
    overseerr: OverseerrClient | None,
) -> User:
    """The one "change a user" action of the admin page and the API."""
    role: str | None = change.role  # compared with the stored Role/UserStatus values
    status: str | None = change.status
    demoting = role is not None and role != Role.ADMIN and user.is_admin
    disabling = status is not None and status != UserStatus.ACTIVE and user.is_active
    if demoting or disabling:
        await _ensure_not_last_admin(session, user=user)
    changes: dict[str, Any] = {}
    if role is not None and role != user.role:
        changes["role"] = {"from": user.role, "to": role}
        user.role = role
    if status is not None and status != user.status:
        changes["status"] = {"from": user.status, "to": status}
        user.status = status
    if "overseerr_user_id" in change.model_fields_set or change.overseerr_link is not None:
        await _change_link(user, change, changes, overseerr)
        if "overseerr_user_id" in changes and user.overseerr_user_id is not None:
            # Ordered with automatic links to that user (it sees this one committed).
            await overseerr_link.lock_overseerr_user(session, user.overseerr_user_id)
    if disabling:
        # Immediately: no session or remember-me token of a disabled user survives.
        await session_store.destroy_user_sessions(session, user_id=user.id)
        await auth_service.revoke_remember_tokens(session, user=user)
    for field, what in changes.items():
        audit.record(
            session,
            action=f"admin.user_{field}_changed",
            actor_id=by.id,
            target=str(user.id),
            details=what,
            ip=by.ip,
        )
    return user


async def delete_user(
    session: AsyncSession, *, ctx: AppContext, by: audit.Actor, user: User
) -> None:
    """Delete the user and what they own, their downloaded files included (the rows
    went with the user before, the files stayed on disk with no record)."""
    await _ensure_not_last_admin(session, user=user)
    downloads = await youtube_service.delete_all_of_user(session, ctx=ctx, user_id=user.id)
    audit.record(
        session,
        action="admin.user_deleted",
        actor_id=by.id,
        target=str(user.id),
        details={"username": user.username, "downloadsDeleted": downloads},
        ip=by.ip,
    )
    await session.delete(user)
    await session.flush()
