"""Sign-in pages: "Sign in with Plex" (PIN), the password form, the forced password change
and the account page (password, signed-in devices, API tokens).

The forms post to the JSON auth API from the browser (static/app.js), so the cookie,
session-rotation and login-throttling logic exists once, in auth/router.py. The API
tokens' form and Revoke button are in auth/tokens/pages.py.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth import service as auth_service
from medianest.auth.dependencies import (
    IdentityDep,
    PasswordChangeIdentity,
    ThisBrowserDep,
    resolve_identity,
)
from medianest.auth.identity import Identity
from medianest.auth.page_user import page_router
from medianest.auth.plex_sign_in import access as plex_access
from medianest.auth.sessions import store as session_store
from medianest.auth.tokens import pages as tokens_pages
from medianest.context import AppContext, ContextDep
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
    request: Request, identity: PasswordChangeIdentity, session: SessionDep, ctx: ContextDep
) -> Response:
    return await _account_page(request, identity, session, ctx)


@router.get("/account")
async def account_page(
    request: Request, identity: IdentityDep, session: SessionDep, ctx: ContextDep
) -> Response:
    """The account page of every user (a Plex user has no password to change)."""
    return await _account_page(request, identity, session, ctx)


async def _account_page(
    request: Request, identity: Identity, session: AsyncSession, ctx: AppContext
) -> Response:
    user = identity.user
    forced = user.must_change_password
    # The account page lists the user's API tokens: a password change revokes them all.
    tokens = {} if forced else await tokens_pages.token_section(session, user=user)
    other_sessions = None
    if not forced and identity.via == "session" and identity.session_token:
        other_sessions = await session_store.count_other_sessions(
            session, user_id=user.id, token=identity.session_token, settings=ctx.settings
        )
    return render(
        request,
        "auth/change_password.html",
        {
            "forced": forced,
            "nav": "account",
            **tokens,
            "has_password": user.password_hash is not None,
            "other_sessions": other_sessions,
        },
    )


@router.post("/account/logout-others")
async def logout_others(request: Request, this: ThisBrowserDep, session: SessionDep) -> Response:
    """The account page's "Sign out of other devices": POST /api/auth/logout-others."""
    ended = await auth_service.end_other_sign_ins(session, this)
    message = (
        f"Signed out of {ended} other session{'' if ended == 1 else 's'}."
        if ended
        else "No other device was signed in."
    )
    return render(
        request,
        "auth/_other_sessions.html",
        {"other_sessions": 0, "message": message},
        headers=trigger(message, "success"),
    )
