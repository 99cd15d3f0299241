"""JSON API of the dashboard: the status of every service, answered from the cache."""

from __future__ import annotations

from fastapi import Request, Response

from medianest.auth.dependencies import CurrentUser
from medianest.context import ContextDep, context_of
from medianest.core.deps import api_router
from medianest.core.envelope import ERROR_RESPONSES, Envelope, envelope, envelope_json
from medianest.dashboard import monitor as status_monitor
from medianest.dashboard import service as status_service
from medianest.dashboard.schemas import ServiceStatusOut

router = api_router(prefix="/api/dashboard", tags=["dashboard"], responses=ERROR_RESPONSES)


@router.get("/status", response_model=Envelope[list[ServiceStatusOut]])
async def get_status(
    request: Request, _user: CurrentUser
) -> Envelope[list[ServiceStatusOut]] | Response:
    """Every service's last known status; never waits on a service (the monitor checks)."""
    # Polled by every open dashboard: the aggregate this instance keeps, serialized once,
    # sent inside the envelope as it is; the database only when no cache holds it. (The
    # context from the request: each dependency FastAPI resolves costs a few µs.)
    ctx = context_of(request)
    data = await status_service.local_copy_json(ctx)
    if data is None:
        return envelope(await status_service.current_status(ctx))
    return Response(envelope_json(data), media_type="application/json")


@router.post("/refresh", response_model=Envelope[list[ServiceStatusOut]])
async def refresh_status(ctx: ContextDep, _user: CurrentUser) -> Envelope[list[ServiceStatusOut]]:
    """Check every service now and answer the new status (changes are pushed too);
    once per 10 s across all users, else 429."""
    return envelope(await status_monitor.refresh(ctx))
