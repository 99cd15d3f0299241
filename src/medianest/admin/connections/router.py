"""JSON API for admins: the external apps' configuration and the connection test.

Thin over the same action as the admin page (`service.save_service`), which commits
before the answer so the rebuilt clients (and the other instances) see the change: no
restart needed.
"""

from __future__ import annotations

from medianest.admin.connections import service as services_service
from medianest.admin.dependencies import ActingAdmin
from medianest.admin.schemas import (
    ServiceOut,
    ServiceTest,
    ServiceTestOut,
    ServiceUpdate,
)
from medianest.auth.dependencies import AdminUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import ERROR_RESPONSES, Envelope, envelope

router = api_router(prefix="/api/admin", tags=["admin"], responses=ERROR_RESPONSES)


@router.get("/services", response_model=Envelope[list[ServiceOut]])
async def list_services(admin: AdminUser, session: SessionDep) -> Envelope[list[ServiceOut]]:
    """Every known service with its configuration; keys only as `apiKeySet`."""
    return envelope(await services_service.list_services(session))


@router.put("/services/{name}", response_model=Envelope[ServiceOut])
async def update_service(
    name: str, body: ServiceUpdate, admin: ActingAdmin, session: SessionDep, ctx: ContextDep
) -> Envelope[ServiceOut]:
    """Save a service's URL, key (encrypted; omitted keeps it, "" removes it) and switch."""
    out = await services_service.save_service(session, ctx=ctx, name=name, change=body, by=admin)
    return envelope(out)


@router.post("/services/test", response_model=Envelope[ServiceTestOut])
async def test_service(
    body: ServiceTest, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Envelope[ServiceTestOut]:
    """Try a saved service or a draft configuration: reachability, version, latency."""
    result = await services_service.test_service(
        session, box=ctx.secret_box, integrations=ctx.integrations, draft=body
    )
    return envelope(result)
