"""Dashboard pages: a card per service, rendered from the same cached aggregate as the API;
Socket.IO `service:status` updates them live (static/app.js)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from medianest.auth.dependencies import CurrentUser
from medianest.auth.page_user import page_router
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import NotFound, RateLimitExceeded
from medianest.dashboard import monitor as status_monitor
from medianest.dashboard import service as status_service
from medianest.web.fragments import trigger
from medianest.web.templating import render
from medianest.youtube.downloads import quotas as quota_service
from medianest.youtube.downloads import service as youtube_service

router = page_router()


@router.get("/dashboard")
async def dashboard_page(
    request: Request, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Response:
    entries = await status_service.current_status(ctx)
    return render(
        request,
        "dashboard/index.html",
        {
            "nav": "dashboard",
            "entries": entries,
            # What is left of the user's own quotas (issue 12), as on the subscriptions page.
            "quotas": await quota_service.user_usage(session, user),
            "hourly": await youtube_service.hourly_left(ctx, user),
        },
    )


@router.get("/dashboard/cards")
async def service_cards(request: Request, user: CurrentUser, ctx: ContextDep) -> Response:
    entries = await status_service.current_status(ctx)
    return render(request, "dashboard/_cards.html", {"entries": entries})


@router.post("/dashboard/refresh")
async def refresh_cards(request: Request, user: CurrentUser, ctx: ContextDep) -> Response:
    """The Refresh button: check now (rate-limited), then the cards as they are."""
    try:
        entries = await status_monitor.refresh(ctx)
    except RateLimitExceeded as limited:
        entries = await status_service.current_status(ctx)
        return render(
            request,
            "dashboard/_cards.html",
            {"entries": entries},
            headers=trigger(limited.message, "info"),
        )
    return render(request, "dashboard/_cards.html", {"entries": entries})


@router.get("/dashboard/cards/{service}")
async def service_card(
    service: str, request: Request, user: CurrentUser, ctx: ContextDep
) -> Response:
    entries = {e.service: e for e in await status_service.current_status(ctx)}
    entry = entries.get(service)
    if entry is None:
        raise NotFound("No such service.")
    return render(request, "dashboard/_card.html", {"entry": entry})
