"""The one loader of the run-time limits: defaults from `Settings`, the admin's overrides
from system_settings (one key, a `RuntimeConfigUpdate` read through `platform.stored_settings`).

`ctx.limits` is refreshed from the database every few seconds, so a change saved on one
instance (`medianest.admin.system.config`) reaches the others.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from medianest.core.context import Closer, CoreContext
from medianest.core.logging import get_logger
from medianest.core.loops import stop_loop
from medianest.db.engine import session_scope
from medianest.limits.runtime import RuntimeConfigUpdate, RuntimeLimits
from medianest.platform.models import SystemSetting
from medianest.platform.stored_settings import validated
from medianest.settings import Settings

log = get_logger(__name__)

RUNTIME_CONFIG_KEY = "runtime_config"
REFRESH_SECONDS = 10.0


class HoldsLimits(Protocol):
    """The app context as far as the limits go (medianest.context.AppContext is one)."""

    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    closers: list[Closer]
    limits: RuntimeLimits


def stored_overrides(value: Any) -> RuntimeConfigUpdate:
    """The stored overrides, with the same bounds as input: a value that no longer
    validates counts as none (logged), so a hand-edited row cannot break the limits."""
    return validated(RUNTIME_CONFIG_KEY, value, RuntimeConfigUpdate) or RuntimeConfigUpdate()


def merge(settings: Settings, overrides: RuntimeConfigUpdate) -> RuntimeLimits:
    valid = overrides.model_dump(exclude_none=True)
    if "plex_sign_in_extra_usernames" in valid:
        valid["plex_sign_in_extra_usernames"] = tuple(valid["plex_sign_in_extra_usernames"])
    return replace(RuntimeLimits.defaults(settings), **valid)


async def load_runtime_config(session: AsyncSession, *, settings: Settings) -> RuntimeLimits:
    row = await session.get(SystemSetting, RUNTIME_CONFIG_KEY)
    return merge(settings, stored_overrides(row.value if row else None))


async def read_runtime_config(core: CoreContext) -> RuntimeLimits:
    """The current limits, read from the database."""
    async with session_scope(core.session_factory) as session:
        return await load_runtime_config(session, settings=core.settings)


async def get_runtime_config(ctx: HoldsLimits) -> RuntimeLimits:
    """The current limits, read from the database and published to the context.

    Limits published while this read was under way (an admin's save on this instance,
    after its commit) are newer than what the read saw: they stay.
    """
    before = ctx.limits
    async with session_scope(ctx.session_factory) as session:
        limits = await load_runtime_config(session, settings=ctx.settings)
    if ctx.limits is before:
        ctx.limits = limits
    return ctx.limits


def keep_runtime_limits_fresh(ctx: HoldsLimits) -> None:
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
        await stop_loop(task)

    ctx.closers.append(stop)
