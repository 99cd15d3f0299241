"""JSON API of the admin's users: list, change role or status, delete (the external
apps are in admin/connections/, the system in admin/system/)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import Query, Response

from medianest.admin.dependencies import ActingAdmin, AdminOverseerr, ManagedUser
from medianest.admin.schemas import UserChange
from medianest.admin.users import service as users_service
from medianest.auth.dependencies import AdminUser
from medianest.auth.models import User
from medianest.context import ContextDep
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import (
    ERROR_RESPONSES,
    ApiModel,
    Envelope,
    PagedEnvelope,
    envelope,
    paged,
)

router = api_router(prefix="/api/admin", tags=["admin"], responses=ERROR_RESPONSES)


class AdminUserOut(ApiModel):
    id: uuid.UUID
    username: str
    email: str | None
    role: str
    status: str
    plex_id: str | None
    plex_linked: bool = False
    must_change_password: bool
    overseerr_user_id: int | None = None
    # Who chose the link: "admin" (a null id then means "no link"), "automatic" (same Plex
    # account), or null (nobody yet: looked up at the user's next request).
    overseerr_link: str | None = None
    created_at: datetime
    last_login_at: datetime | None


def _out(user: User) -> AdminUserOut:
    out = AdminUserOut.model_validate(user)
    return out.model_copy(update={"plex_linked": user.plex_token is not None})


@router.get("/users", response_model=PagedEnvelope[AdminUserOut])
async def list_users(
    admin: AdminUser,
    session: SessionDep,
    search: str | None = Query(default=None, max_length=150),
    page: int = Query(default=1, ge=1, le=100_000),
    page_size: int = Query(default=25, ge=1, le=100, alias="pageSize"),
) -> PagedEnvelope[AdminUserOut]:
    """Every user, oldest first; `search` matches username or email."""
    users, total = await users_service.list_users(
        session, search=search, page=page, page_size=page_size
    )
    return paged([_out(u) for u in users], page=page, page_size=page_size, total=total)


@router.put("/users/{user_id}", response_model=Envelope[AdminUserOut])
async def update_user(
    user: ManagedUser,
    body: UserChange,
    admin: ActingAdmin,
    overseerr: AdminOverseerr,
    session: SessionDep,
) -> Envelope[AdminUserOut]:
    """Change a user's role, status or Overseerr user; disabling signs them out
    everywhere at once."""
    await users_service.update_user(session, by=admin, user=user, change=body, overseerr=overseerr)
    return envelope(_out(user))


@router.delete("/users/{user_id}", status_code=204, response_class=Response)
async def delete_user(
    user: ManagedUser, admin: ActingAdmin, session: SessionDep, ctx: ContextDep
) -> Response:
    """Delete a user and everything they own (requests, downloads, sessions, tokens)."""
    await users_service.delete_user(session, ctx=ctx, by=admin, user=user)
    return Response(status_code=204)
