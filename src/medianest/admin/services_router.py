"""JSON API for admins: external service configuration and run-time system settings.

Thin over the same actions as the admin page (`services.save_service`,
`system_config.save_runtime_config`), which commit before the answer so the rebuilt
clients (and the other instances) see the change: no restart needed.
"""

from __future__ import annotations

from medianest.admin import services as services_service
from medianest.admin import system_config
from medianest.admin.dependencies import ActingAdmin
from medianest.admin.schemas import (
    RuntimeConfigOut,
    ServiceOut,
    ServiceTest,
    ServiceTestOut,
    ServiceUpdate,
)
from medianest.auth.dependencies import AdminUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import ERROR_RESPONSES, Envelope, envelope
from medianest.limits import store as limits_store
from medianest.limits.runtime import RuntimeConfigUpdate

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


@router.get("/config", response_model=Envelope[RuntimeConfigOut])
async def get_config(
    admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Envelope[RuntimeConfigOut]:
    """Run-time limits and defaults (settings' values unless an admin changed them)."""
    limits = await limits_store.load_runtime_config(session, settings=ctx.settings)
    return envelope(system_config.runtime_config_out(limits))


@router.put("/config", response_model=Envelope[RuntimeConfigOut])
async def update_config(
    body: RuntimeConfigUpdate, admin: ActingAdmin, session: SessionDep, ctx: ContextDep
) -> Envelope[RuntimeConfigOut]:
    """Change run-time limits; fields left out keep their value. Applies at once."""
    limits = await system_config.save_runtime_config(session, ctx=ctx, changes=body, by=admin)
    return envelope(system_config.runtime_config_out(limits))
