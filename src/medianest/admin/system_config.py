"""System settings the admin can change at run time: rate limits, quotas, download defaults.

Defaults come from `Settings`; the admin's overrides live in system_settings under
one key, stored as a `RuntimeConfigUpdate` (the fields the admin set, snake_case). `ctx.limits` is a `RuntimeLimits` (medianest.limits.runtime) whose attributes
(`api_per_minute`, ...) other packages read on every request; it is refreshed from
the database every few seconds so a change made on one instance reaches the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import asdict, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.admin.schemas import RuntimeConfigOut, RuntimeConfigUpdate
from medianest.context import AppContext
from medianest.core.context import CoreContext
from medianest.core.errors import ValidationFailed
from medianest.core.logging import get_logger
from medianest.db.engine import session_scope
from medianest.limits.runtime import RuntimeLimits
from medianest.limits.stored import validated
from medianest.platform import audit
from medianest.platform.models import SystemSetting
from medianest.settings import Settings

log = get_logger(__name__)

RUNTIME_CONFIG_KEY = "runtime_config"
REFRESH_SECONDS = 10.0


def runtime_config_out(limits: RuntimeLimits) -> RuntimeConfigOut:
    return RuntimeConfigOut.model_validate(asdict(limits))


def stored_overrides(value: Any) -> RuntimeConfigUpdate:
    """The stored overrides, with the same bounds as input: a value that no longer
    validates counts as none (logged), so a hand-edited row cannot break the limits."""
    return validated(RUNTIME_CONFIG_KEY, value, RuntimeConfigUpdate) or RuntimeConfigUpdate()


def _merge(settings: Settings, overrides: RuntimeConfigUpdate) -> RuntimeLimits:
    valid = overrides.model_dump(exclude_none=True)
    if "plex_sign_in_extra_usernames" in valid:
        valid["plex_sign_in_extra_usernames"] = tuple(valid["plex_sign_in_extra_usernames"])
    return replace(RuntimeLimits.defaults(settings), **valid)


async def load_runtime_config(session: AsyncSession, *, settings: Settings) -> RuntimeLimits:
    row = await session.get(SystemSetting, RUNTIME_CONFIG_KEY)
    return _merge(settings, stored_overrides(row.value if row else None))


async def read_runtime_config(core: CoreContext) -> RuntimeLimits:
    """The current limits, read from the database."""
    async with session_scope(core.session_factory) as session:
        return await load_runtime_config(session, settings=core.settings)


async def get_runtime_config(ctx: AppContext) -> RuntimeLimits:
    """The current limits, read from the database and published to the context."""
    ctx.limits = await read_runtime_config(ctx)
    return ctx.limits


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
    changed = changes.model_dump(exclude_none=True)
    overrides = stored_overrides(row.value if row else None).model_copy(update=changed)
    merged = _merge(ctx.settings, overrides)
    if merged.per_user_concurrency > merged.worker_concurrency:
        raise ValidationFailed(
            "Per-user concurrency cannot exceed worker concurrency.",
            details={
                "perUserConcurrency": merged.per_user_concurrency,
                "workerConcurrency": merged.worker_concurrency,
            },
        )
    value = overrides.model_dump(mode="json", exclude_none=True)
    if row is None:
        session.add(SystemSetting(key=RUNTIME_CONFIG_KEY, value=value))
    else:
        row.value = value
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
    ctx.limits = limits
    return limits


def keep_runtime_limits_fresh(ctx: AppContext) -> None:
    """Re-read `ctx.limits` every few seconds (stopped by the context's closers)."""

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

    ctx.closers.append(stop)
