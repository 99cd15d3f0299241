"""The result of one `/api/health` check, and the shape of a check another package
provides (the download workers' health, live or from their heartbeat rows)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from medianest.core.envelope import ApiModel


class CheckResult(ApiModel):
    status: Literal["ok", "error", "disabled"]
    latency_ms: float | None = None
    error: str | None = None


HealthCheck = Callable[[], Awaitable[CheckResult]]
