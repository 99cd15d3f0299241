"""Sign-in pages: "Sign in with Plex" (PIN), the password form and the forced password change.

The forms post to the JSON auth API from the browser (static/app.js), so the cookie,
session-rotation and login-throttling logic exists once, in auth/router.py.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from medianest.auth import plex_access
from medianest.auth.dependencies import Identity, PasswordChangeIdentity, resolve_identity
from medianest.core.deps import ContextDep
from medianest.web.templating import render

router = APIRouter()

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
async def change_password_page(request: Request, identity: PasswordChangeIdentity) -> Response:
    return render(
        request,
        "auth/change_password.html",
        {"forced": identity.user.must_change_password, "nav": "account"},
    )
