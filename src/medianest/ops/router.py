"""Liveness and dependency checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi.responses import JSONResponse
from sqlalchemy import text

from medianest import __version__
from medianest.context import AppContext, ContextDep
from medianest.core.deps import api_router
from medianest.core.envelope import ApiModel, Envelope, envelope
from medianest.core.health import CheckResult

router = api_router(prefix="/api", tags=["operations"])
CHECK_TIMEOUT_SECONDS = 2.0


class Health(ApiModel):
    status: Literal["ok", "degraded"]
    version: str
    checks: dict[str, CheckResult]


async def _timed(check: Callable[[], Awaitable[None]]) -> CheckResult:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # a health check reports failures, it does not raise them
        return CheckResult(status="error", error=type(exc).__name__)
    return CheckResult(status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 2))


async def _reported(check: Callable[[], Awaitable[CheckResult]]) -> CheckResult:
    """A check that reads state (the worker's heartbeat rows) and may find it unreachable."""
    try:
        return await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # reported as the check's error, like _timed's checks
        return CheckResult(status="error", error=type(exc).__name__)


@router.get(
    "/health", response_model=Envelope[Health], responses={503: {"model": Envelope[Health]}}
)
async def health(ctx: ContextDep) -> JSONResponse | Envelope[Health]:
    """Liveness plus database, Redis (when configured) and download-worker checks (a
    separately run worker by its heartbeat); 503 when degraded."""
    return await _health(ctx, include_worker=True)


@router.get(
    "/health/app", response_model=Envelope[Health], responses={503: {"model": Envelope[Health]}}
)
async def app_health(ctx: ContextDep) -> JSONResponse | Envelope[Health]:
    """The web process alone (database, Redis): the container healthcheck, so a worker
    that waits for a healthy app is not itself what keeps the app unhealthy."""
    return await _health(ctx, include_worker=False)


async def _health(ctx: AppContext, *, include_worker: bool) -> JSONResponse | Envelope[Health]:
    async def check_db() -> None:
        async with ctx.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    checks = {"database": await _timed(check_db)}
    if ctx.redis is not None:
        redis = ctx.redis

        async def check_redis() -> None:
            await redis.ping()

        checks["redis"] = await _timed(check_redis)
    else:
        checks["redis"] = CheckResult(status="disabled")
    if include_worker and ctx.worker_health is not None:
        checks["worker"] = await _reported(ctx.worker_health)
    degraded = any(c.status == "error" for c in checks.values())
    body = envelope(
        Health(status="degraded" if degraded else "ok", version=__version__, checks=checks)
    )
    if degraded:
        return JSONResponse(body.model_dump(mode="json", by_alias=True), status_code=503)
    return body
