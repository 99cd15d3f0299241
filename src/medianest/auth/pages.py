"""Sign-in pages: "Sign in with Plex" (PIN), the password form and the forced password change.

The forms post to the JSON auth API from the browser (static/app.js), so the cookie,
session-rotation and login-throttling logic exists once, in auth/router.py.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from medianest.auth.dependencies import (
    CurrentUser,
    PasswordChangeIdentity,
    resolve_identity,
)
from medianest.auth.identity import Identity
from medianest.auth.page_user import page_router
from medianest.auth.plex_sign_in import access as plex_access
from medianest.auth.tokens import service as api_tokens
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.web.fragments import trigger
from medianest.web.templating import render

router = page_router()

MaybeIdentity = Annotated[Identity | None, Depends(resolve_identity)]
DEFAULT_LANDING = "/dashboard"


# A same-site path, and only that: one "/" then printable ASCII with no backslash.
# Browsers drop tabs and newlines inside URLs and read "\\" as "/", so "/\t/evil.example"
# and "/\\evil.example" would leave the site; anything outside this set is refused, not
# cleaned. static/app.js `safeNext` applies the same pattern (SAFE_NEXT_PATTERN).
SAFE_NEXT_PATTERN = r"^/(?!/)[!-\[\]-~]*$"
_SAFE_NEXT = re.compile(SAFE_NEXT_PATTERN)


def safe_next(value: str | None) -> str:
    """`value` when it is a same-site path (see SAFE_NEXT_PATTERN), else the dashboard."""
    if not value or not _SAFE_NEXT.fullmatch(value):
        return DEFAULT_LANDING
    return value


@router.get("/")
async def home(identity: MaybeIdentity) -> Response:
    return RedirectResponse(DEFAULT_LANDING if identity else "/login", status_code=303)


@router.get("/login")
async def login_page(
    request: Request,
    identity: MaybeIdentity,
    ctx: ContextDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    target = safe_next(next_path)
    if identity is not None:
        landing = "/change-password" if identity.user.must_change_password else target
        return RedirectResponse(landing, status_code=303)
    return render(
        request,
        "auth/login.html",
        {
            "next": target,
            "plex_link_url": f"{ctx.settings.plex_tv_url}/link",
        },
    )


@router.get("/sign-in-refused")
async def sign_in_refused_page(
    request: Request,
    ctx: ContextDep,
    reason: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Why a Plex account was refused, and whom to ask (the server's owner)."""
    server = await plex_access.server_identity(ctx)
    return render(
        request,
        "auth/refused.html",
        {
            "reason": reason,
            "server_name": server.friendly_name if server else None,
            "owner": server.my_plex_username if server else None,
        },
        status_code=403,
    )


@router.get("/change-password")
async def change_password_page(
    request: Request, identity: PasswordChangeIdentity, session: SessionDep
) -> Response:
    forced = identity.user.must_change_password
    # The account page lists the user's API tokens: a password change revokes them all.
    tokens = [] if forced else await api_tokens.list_tokens(session, user=identity.user)
    return render(
        request,
        "auth/change_password.html",
        {"forced": forced, "nav": "account", "tokens": tokens},
    )


@router.delete("/account/tokens/{token_id}")
async def revoke_api_token(token_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    """The account page's Revoke button: the same action as DELETE /api/auth/tokens/{id}."""
    await api_tokens.revoke_users_token(session, user=user, token_id=token_id)
    return Response(content="", media_type="text/html", headers=trigger("Token revoked.", "info"))
