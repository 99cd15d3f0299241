"""Audit log writes; details are redacted like log lines, so no secret lands here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.core.logging import get_logger, redact_value
from medianest.platform.models import AuditLog

log = get_logger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who made an audited change and from which address (`admin.dependencies`)."""

    id: uuid.UUID
    ip: str | None


def record(
    session: AsyncSession,
    *,
    action: str,
    actor_id: uuid.UUID | None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    """Add an audit row to the caller's unit of work (committed with it)."""
    safe = redact_value(None, details or {})
    session.add(AuditLog(actor_id=actor_id, action=action, target=target, details=safe, ip=ip))
    log.info("audit", action=action, actor_id=str(actor_id) if actor_id else None, target=target)
