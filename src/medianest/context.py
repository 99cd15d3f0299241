"""The typed application context: everything a request, a worker or a monitor needs,
built once by `app.build_context`.

Layering: `core` < `platform` < `limits` < `integrations` < this module < the feature
packages (auth, dashboard, media, plex, youtube, notifications, admin, ops) < `app`.
Feature packages import this module; it imports none of them, so what a feature keeps
for itself (the session cache, the status monitor, the download queue's signals)
stays in that feature, behind its own typed accessor.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Annotated

from fastapi import Depends, Request

from medianest.core.context import CoreContext
from medianest.core.health import HealthCheck
from medianest.integrations.registry import Integrations
from medianest.limits.runtime import RuntimeLimits


@dataclass(kw_only=True, eq=False)
class AppContext(CoreContext):
    # The live clients of the configured services (rebuilt when their configuration changes).
    integrations: Integrations
    # Replaced (never mutated) when the admin changes them or a refresh reads a change.
    limits: RuntimeLimits
    # The download workers' health for `/api/health`: set by whichever part this process
    # starts (the workers themselves, or the reader of their heartbeat rows); None in an
    # app that started neither.
    worker_health: HealthCheck | None = None

    @classmethod
    def extending(
        cls, core: CoreContext, *, integrations: Integrations, limits: RuntimeLimits
    ) -> AppContext:
        """The app context over a platform context built first (the integrations and
        the limits are read through it)."""
        platform = {f.name: getattr(core, f.name) for f in fields(CoreContext)}
        return cls(**platform, integrations=integrations, limits=limits)


def context_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_context(request: Request) -> AppContext:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, and
    # that hop on every request cost more than the rest of a cached answer.
    return context_of(request)


ContextDep = Annotated[AppContext, Depends(get_context)]
