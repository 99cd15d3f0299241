"""The admin's change of the run-time limits (rate limits, download defaults, Plex
sign-in): validated, audited, stored in system_settings as a `RuntimeConfigUpdate` (the
fields the admin set, snake_case) and published to this instance.

Loading them, and keeping `ctx.limits` fresh on every instance, is `medianest.limits.store`.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.admin.schemas import RuntimeConfigOut
from medianest.context import AppContext
from medianest.core.errors import ValidationFailed
from medianest.db.engine import after_commit
from medianest.limits.runtime import RuntimeConfigUpdate, RuntimeLimits
from medianest.limits.store import RUNTIME_CONFIG_KEY, merge, stored_overrides
from medianest.platform import audit, stored_settings
from medianest.platform.models import SystemSetting


def runtime_config_out(limits: RuntimeLimits) -> RuntimeConfigOut:
    return RuntimeConfigOut.model_validate(asdict(limits))


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
    merged = merge(ctx.settings, overrides)
    if merged.per_user_concurrency > merged.worker_concurrency:
        raise ValidationFailed(
            "Per-user concurrency cannot exceed worker concurrency.",
            details={
                "perUserConcurrency": merged.per_user_concurrency,
                "workerConcurrency": merged.worker_concurrency,
            },
        )
    value = overrides.model_dump(mode="json", exclude_none=True)
    await stored_settings.save(session, RUNTIME_CONFIG_KEY, value)
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

    async def publish() -> None:  # the other instances read them on their next refresh
        ctx.limits = limits

    after_commit(session, publish)
    return limits
