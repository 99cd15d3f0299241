"""The admin page's "YouTube system" section: yt-dlp version and age (warning past 60
days), the download queue by state and pause reason, and the queue breaker with why it
opened and a button to resume now. Same data as `GET /api/admin/system`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from medianest.admin import system_router
from medianest.auth.dependencies import AdminUser
from medianest.core.deps import ContextDep, SessionDep
from medianest.web.fragments import trigger
from medianest.web.templating import render

router = APIRouter()


@router.get("/admin/system")
async def system_fragment(request: Request, admin: AdminUser, session: SessionDep) -> Response:
    info = (await system_router.system_info(admin, session)).data
    return render(request, "admin/_system.html", {"info": info})


@router.post("/admin/system/queue-breaker/close")
async def close_breaker(
    request: Request, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Response:
    info = (await system_router.close_breaker(admin, session, ctx, request)).data
    return render(
        request,
        "admin/_system.html",
        {"info": info},
        headers=trigger("Downloads resume now.", "info"),
    )
