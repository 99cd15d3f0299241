"""The admin page's "YouTube cookies" panel: the same actions as `cookies_router` (set,
remove), as an HTMX fragment. The pasted text is never rendered back, even when refused."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from medianest.admin.dependencies import ActingAdmin
from medianest.admin.system import cookies_router
from medianest.auth.dependencies import AdminUser
from medianest.auth.page_user import page_router
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import MediaNestError
from medianest.web.fragments import trigger
from medianest.web.templating import render
from medianest.youtube.cookies import store as youtube_cookies

router = page_router()
TEMPLATE = "admin/_youtube_cookies.html"


@router.get("/admin/youtube-cookies")
async def cookies_fragment(request: Request, admin: AdminUser, session: SessionDep) -> Response:
    cookies = (await cookies_router.get_cookies(admin, session)).data
    return render(request, TEMPLATE, {"cookies": cookies, "error": None})


@router.put("/admin/youtube-cookies")
async def save_cookies(
    request: Request,
    admin: ActingAdmin,
    session: SessionDep,
    ctx: ContextDep,
    cookies: Annotated[str, Form()] = "",
) -> Response:
    body = cookies_router.YoutubeCookiesIn(cookies=cookies)
    try:
        saved = (await cookies_router.set_cookies(body, admin, session, ctx)).data
    except MediaNestError as error:
        await session.rollback()
        shown = cookies_router.cookies_out(await youtube_cookies.cookies_status(session))
        context = {"cookies": shown, "error": error.message, "details": error.details}
        return render(request, TEMPLATE, context, status_code=error.status_code)
    return render(
        request,
        TEMPLATE,
        {"cookies": saved, "error": None},
        headers=trigger(f"YouTube cookies saved ({saved.count}).", "success"),
    )


@router.delete("/admin/youtube-cookies")
async def remove_cookies(request: Request, admin: ActingAdmin, session: SessionDep) -> Response:
    removed = (await cookies_router.remove_cookies(admin, session)).data
    return render(
        request,
        TEMPLATE,
        {"cookies": removed, "error": None},
        headers=trigger("YouTube cookies removed.", "info"),
    )
