"""Per-role quotas: YouTube items per day, YouTube gigabytes per week, media requests per week.

The admin sets them per role (system_settings, key `youtube_quotas`; no value = no
limit). Usage is counted from rows the database already keeps — the per-user download
archive (one row per downloaded video, with its size, `youtube/downloads/quotas.py`) and
`media_requests` (`media/quotas.py`) — over rolling windows, so every app instance and
worker agrees, nothing is lost on restart, and "when it resets" is exact: the moment
the oldest counted entry leaves the window (`window_reset`). This module holds what
both count against: the configuration and the `Usage` they report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.core.envelope import ApiInput
from medianest.core.errors import QuotaExceeded
from medianest.db.base import utcnow
from medianest.platform import stored_settings
from medianest.platform.models import SystemSetting
from medianest.platform.stored_settings import validated

QUOTAS_KEY = "youtube_quotas"
DAY_SECONDS = 24 * 3600
WEEK_SECONDS = 7 * DAY_SECONDS
GB = 1024**3
QuotaName = Literal["youtubeItemsPerDay", "youtubeGbPerWeek", "mediaRequestsPerWeek"]


class RoleQuotas(ApiInput):
    """One role's limits; null means unlimited."""

    youtube_items_per_day: int | None = Field(default=None, ge=0, le=100_000)
    youtube_gb_per_week: float | None = Field(default=None, ge=0, le=1_000_000)
    media_requests_per_week: int | None = Field(default=None, ge=0, le=100_000)


class QuotaConfig(ApiInput):
    admin: RoleQuotas = Field(default_factory=RoleQuotas)
    user: RoleQuotas = Field(default_factory=RoleQuotas)

    def for_role(self, role: str) -> RoleQuotas:
        return self.admin if role == "admin" else self.user


@dataclass(frozen=True)
class Usage:
    """One quota for one user: `limit` None = unlimited; `resets_at` when a unit frees up."""

    name: QuotaName
    unit: Literal["items", "bytes", "requests"]
    limit: float | None
    used: float
    window_seconds: int
    resets_at: datetime | None

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    @property
    def remaining(self) -> float | None:
        return None if self.limit is None else max(0.0, self.limit - self.used)

    def error(self) -> QuotaExceeded:
        resets = self.resets_at or utcnow() + timedelta(seconds=self.window_seconds)
        retry_after = max(1, int((resets - utcnow()).total_seconds()) + 1)
        return QuotaExceeded(
            f"Your quota ({_describe(self)}) is used up until {resets:%Y-%m-%d %H:%M} UTC.",
            limit=int(self.limit or 0),
            window_seconds=self.window_seconds,
            retry_after=retry_after,
            details={"quota": self.name, "resetsAt": resets.isoformat(), "used": self.used},
        )


def _describe(usage: Usage) -> str:
    if usage.name == "youtubeItemsPerDay":
        return f"{int(usage.limit or 0)} YouTube items per day"
    if usage.name == "youtubeGbPerWeek":
        return f"{(usage.limit or 0) / GB:g} GB of YouTube downloads per week"
    return f"{int(usage.limit or 0)} media requests per week"


# --- configuration -------------------------------------------------------------------------
async def load_config(session: AsyncSession) -> QuotaConfig:
    row = await session.get(SystemSetting, QUOTAS_KEY)
    # A value that no longer validates must not lock everybody out: no limits (logged).
    return validated(QUOTAS_KEY, row.value if row else None, QuotaConfig) or QuotaConfig()


async def save_config(session: AsyncSession, config: QuotaConfig) -> None:
    value = config.model_dump(mode="json")
    await stored_settings.save(session, QUOTAS_KEY, value)


# --- usage windows -------------------------------------------------------------------------
def window_reset(
    entries: list[tuple[datetime, int]],
    limit: float | None,
    window_seconds: int,
    *,
    needed: float = 0,
) -> datetime | None:
    """When usage next drops below the limit, or with `needed` when that much more fits
    under it (entries leave the window oldest first); None when it is not used up (or
    `needed` fits now), or never frees up (a limit of 0)."""
    if limit is None:
        return None

    def full(used: float) -> bool:
        return used + needed > limit if needed else used >= limit

    used = sum(amount for _, amount in entries)
    if not full(used):
        return None
    for at, amount in entries:
        used -= amount
        if not full(used):
            return at + timedelta(seconds=window_seconds)
    return None
