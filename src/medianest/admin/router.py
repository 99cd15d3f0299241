"""JSON API of the admin package: user management (services live in services_router.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from medianest.admin import users_service
from medianest.admin.dependencies import ManagedUser
from medianest.admin.users_service import MAX_OVERSEERR_USER_ID
from medianest.auth.cookies import client_ip
from medianest.auth.dependencies import AdminUser
from medianest.auth.models import User
from medianest.core.deps import ContextDep, SessionDep
from medianest.core.envelope import (
    ERROR_RESPONSES,
    ApiInput,
    ApiModel,
    Envelope,
    PagedEnvelope,
    envelope,
    paged,
)
from medianest.integrations.registry import get_integrations

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ERROR_RESPONSES)


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
    created_at: datetime
    last_login_at: datetime | None


class UpdateUser(ApiInput):
    role: Literal["admin", "user"] | None = None
    status: Literal["active", "disabled"] | None = None
    # Overseerr's id of this person: their requests are made as that Overseerr user.
    # Omitted: unchanged; null: cleared (requests made as the API key's admin again).
    overseerr_user_id: int | None = Field(default=None, ge=1, le=MAX_OVERSEERR_USER_ID)


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
    body: UpdateUser,
    request: Request,
    admin: AdminUser,
    session: SessionDep,
    ctx: ContextDep,
) -> Envelope[AdminUserOut]:
    """Change a user's role, status or Overseerr user; disabling signs them out
    everywhere at once."""
    await users_service.update_user(
        session,
        actor=admin,
        user=user,
        role=body.role,
        status=body.status,
        overseerr_user_id=(
            body.overseerr_user_id if "overseerr_user_id" in body.model_fields_set else ...
        ),
        overseerr=await get_integrations(ctx).overseerr(),
        ip=client_ip(request, ctx.settings),
    )
    return envelope(_out(user))


@router.delete("/users/{user_id}", status_code=204, response_class=Response)
async def delete_user(
    user: ManagedUser, request: Request, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Response:
    """Delete a user and everything they own (requests, downloads, sessions, tokens)."""
    await users_service.delete_user(
        session, ctx=ctx, actor=admin, user=user, ip=client_ip(request, ctx.settings)
    )
    return Response(status_code=204)
