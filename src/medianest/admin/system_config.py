"""System settings the admin can change at run time: rate limits, quotas, download defaults.

Defaults come from `Settings`; the admin's overrides live in system_settings under
one key. `ctx.services["runtime_limits"]` is a `RuntimeLimits` whose attributes
(`api_per_minute`, ...) other packages read on every request; it is refreshed from
the database every few seconds so a change made on one instance reaches the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.admin import audit
from medianest.admin.models import SystemSetting
from medianest.admin.schemas import RuntimeConfigOut, RuntimeConfigUpdate
from medianest.core.context import AppContext
from medianest.core.errors import ValidationFailed
from medianest.core.logging import get_logger
from medianest.db.engine import session_scope
from medianest.settings import Settings

log = get_logger(__name__)

RUNTIME_CONFIG_KEY = "runtime_config"
REFRESH_SECONDS = 10.0


@dataclass(frozen=True)
class RuntimeLimits:
    api_per_minute: int
    youtube_per_hour: int
    requests_per_hour: int
    default_download_quality: str
    worker_concurrency: int
    per_user_concurrency: int
    plex_sign_in: str = "server_users"
    plex_sign_in_extra_usernames: tuple[str, ...] = ()

    @classmethod
    def defaults(cls, settings: Settings) -> RuntimeLimits:
        return cls(
            api_per_minute=settings.rate_limit_api_per_minute,
            youtube_per_hour=settings.rate_limit_youtube_per_hour,
            requests_per_hour=settings.rate_limit_requests_per_hour,
            default_download_quality=settings.default_download_quality,
            worker_concurrency=settings.worker_concurrency,
            per_user_concurrency=settings.worker_per_user_concurrency,
            plex_sign_in=settings.plex_signin,
            plex_sign_in_extra_usernames=tuple(settings.plex_signin_extra_usernames),
        )

    def out(self) -> RuntimeConfigOut:
        return RuntimeConfigOut.model_validate(asdict(self))


def _merge(settings: Settings, overrides: Any) -> RuntimeLimits:
    base = RuntimeLimits.defaults(settings)
    if not isinstance(overrides, dict):
        return base
    try:
        # Stored values pass the same bounds as input: a hand-edited row cannot break limits.
        valid = RuntimeConfigUpdate.model_validate(overrides).model_dump(exclude_none=True)
    except ValidationError:
        log.warning("runtime_config_invalid_in_database")
        return base
    if "plex_sign_in_extra_usernames" in valid:
        valid["plex_sign_in_extra_usernames"] = tuple(valid["plex_sign_in_extra_usernames"])
    return replace(base, **valid)


async def load_runtime_config(session: AsyncSession, *, settings: Settings) -> RuntimeLimits:
    row = await session.get(SystemSetting, RUNTIME_CONFIG_KEY)
    return _merge(settings, row.value if row else None)


async def get_runtime_config(ctx: AppContext) -> RuntimeLimits:
    """The current limits, read from the database (and published to the context)."""
    async with session_scope(ctx.session_factory) as session:
        limits = await load_runtime_config(session, settings=ctx.settings)
    ctx.services["runtime_limits"] = limits
    return limits


async def update_runtime_config(
    session: AsyncSession,
    *,
    ctx: AppContext,
    changes: RuntimeConfigUpdate,
    actor_id: uuid.UUID,
    ip: str | None,
) -> RuntimeLimits:
    """Apply the admin's changes (validated, audited); takes effect on commit."""
    row = await session.get(SystemSetting, RUNTIME_CONFIG_KEY)
    stored: dict[str, Any] = dict(row.value) if row and isinstance(row.value, dict) else {}
    changed = changes.model_dump(exclude_none=True)
    merged = _merge(ctx.settings, {**stored, **changed})
    if merged.per_user_concurrency > merged.worker_concurrency:
        raise ValidationFailed(
            "Per-user concurrency cannot exceed worker concurrency.",
            details={
                "perUserConcurrency": merged.per_user_concurrency,
                "workerConcurrency": merged.worker_concurrency,
            },
        )
    if row is None:
        session.add(SystemSetting(key=RUNTIME_CONFIG_KEY, value={**stored, **changed}))
    else:
        row.value = {**stored, **changed}
    audit.record(
        session,
        action="system_config.update",
        actor_id=actor_id,
        target="system_config",
        details={"changed": changed},
        ip=ip,
    )
    return merged


async def save_runtime_config(
    session: AsyncSession, *, ctx: AppContext, changes: RuntimeConfigUpdate, by: audit.Actor
) -> RuntimeLimits:
    """The one "change system settings" action of the admin page and the API: stored
    (audited), committed, and published to this instance at once."""
    limits = await update_runtime_config(
        session, ctx=ctx, changes=changes, actor_id=by.id, ip=by.ip
    )
    # Committed here, not by the session dependency: the limits are published below and
    # the other instances read them from the database on their next refresh.
    await session.commit()
    ctx.services["runtime_limits"] = limits
    return limits


async def install_runtime_limits(ctx: AppContext) -> None:
    """Publish the limits now and keep them fresh (stopped by the context's closers)."""
    await get_runtime_config(ctx)

    async def refresh_forever() -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await get_runtime_config(ctx)
            except Exception as exc:  # keep the last limits through a database hiccup
                log.warning("runtime_config_refresh_failed", error=type(exc).__name__)

    task = asyncio.get_running_loop().create_task(refresh_forever())

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    ctx.services.setdefault("closers", []).append(stop)
