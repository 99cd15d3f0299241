"""Dependencies shared by the admin page and API: the acting admin of an audited change,
the user an admin manages (401/403 before the lookup, then 404 for an unknown id) and
the configured Overseerr client a user link is checked against."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from medianest.admin.users import service as users_service
from medianest.auth.cookies import client_ip
from medianest.auth.dependencies import AdminUser
from medianest.auth.models import User
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.integrations.overseerr import OverseerrClient
from medianest.platform import audit


async def acting_admin(admin: AdminUser, request: Request, ctx: ContextDep) -> audit.Actor:
    """The signed-in admin (401/403 otherwise) and the address the change came from."""
    return audit.Actor(id=admin.id, ip=client_ip(request, ctx.settings))


ActingAdmin = Annotated[audit.Actor, Depends(acting_admin)]


async def managed_user(user_id: uuid.UUID, admin: AdminUser, session: SessionDep) -> User:
    return await users_service.get_user(session, user_id=user_id)


ManagedUser = Annotated[User, Depends(managed_user)]


async def admin_overseerr(admin: AdminUser, ctx: ContextDep) -> OverseerrClient | None:
    """The configured Overseerr, or None (a link is then stored unchecked)."""
    return await ctx.integrations.overseerr()


AdminOverseerr = Annotated[OverseerrClient | None, Depends(admin_overseerr)]
