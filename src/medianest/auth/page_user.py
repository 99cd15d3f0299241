"""What the HTML layer (web/) needs from sign-in, handed to it by the app
(medianest/pages.py): who is signed in, and the CSRF cookie a page hands out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from medianest.auth.cookies import SESSION_COOKIE, set_csrf_cookie
from medianest.auth.dependencies import resolve_identity
from medianest.auth.models import User
from medianest.context import context_of
from medianest.core import response_cache
from medianest.core.deps import api_router
from medianest.web.templating import PageHooks, PageUser


def page_user_of(user: User) -> PageUser:
    return PageUser(
        id=user.id,
        username=user.username,
        role=user.role,
        is_admin=user.is_admin,
        must_change_password=user.must_change_password,
        has_password=user.password_hash is not None,
    )


@response_cache.who_asks
async def remember_page_user(request: Request, response: Response) -> None:
    """Router-level dependency of every page router: runs before any permission check
    (a refusal page shows who is signed in)."""
    identity = await resolve_identity(request, response, context_of(request))
    request.state.page_user = page_user_of(identity.user) if identity is not None else None


def page_router() -> APIRouter:
    """The router of a domain's pages: out of the OpenAPI document, and every page knows
    who is signed in before its own dependencies run (`remember_page_user`)."""
    return api_router(include_in_schema=False, dependencies=[Depends(remember_page_user)])


def hand_out_csrf_cookie(request: Request, response: Response) -> None:
    settings = getattr(request.app.state, "settings", None)
    if settings is not None:
        # htmx echoes this cookie in X-CSRF-Token; a page is the place to hand it out.
        set_csrf_cookie(response, request, settings)


def has_session_cookie(request: Request) -> bool:
    return bool(request.cookies.get(SESSION_COOKIE))


PAGE_HOOKS = PageHooks(hand_out_cookies=hand_out_csrf_cookie, has_session_cookie=has_session_cookie)
