"""What the dashboard shows: one entry per service, with Uptime Kuma's monitors when set up."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from medianest.core.envelope import ApiModel

ServiceState = Literal["online", "offline", "degraded", "unconfigured"]
MonitorState = Literal["up", "down", "pending", "maintenance"]
# Uptime Kuma's data: pushed by the live connection, or polled (metrics, status page).
DataSource = Literal["live", "polling"]
# A check or data this much newer than the entry before is pushed even when nothing else
# changed: an open dashboard shows both ages ("Checked 12 s ago", "Live · data 12 s ago"),
# which must not grow while the services are checked every round and Uptime Kuma beats
# steadily (docs/uptime-kuma-real.md, "The heartbeat stream"). At most one push a service
# per step: a round of 30 s pushes each service once.
DATA_AGE_PUSH_SECONDS = 10.0


class MonitorStatus(ApiModel):
    """One Uptime Kuma monitor as the dashboard shows it."""

    name: str
    status: MonitorState
    response_time_ms: float | None = None
    uptime_percentage: float | None = None


class ServiceStatusOut(ApiModel):
    """The last known status of one service (`url` is a link out, never credentials)."""

    service: str
    status: ServiceState
    response_time_ms: float | None = None
    last_check_at: datetime | None = None
    uptime_percentage: float | None = None
    error: str | None = None
    url: str | None = None
    monitors: list[MonitorStatus] | None = None
    source: DataSource | None = None
    # When the shown data was current upstream (a heartbeat's time, or a poll's answer).
    data_at: datetime | None = None
    # Why the live source is not in use (a refused sign-in, a lost connection).
    source_note: str | None = None

    def push_payload(self) -> dict[str, Any]:
        """The `service:status` event: the spec's {service, status, responseTime?, error?}
        plus the rest of the entry, so a client can render it without another request."""
        payload = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        if self.response_time_ms is not None:
            payload["responseTime"] = self.response_time_ms
        return payload

    def worth_pushing(self, before: ServiceStatusOut | None) -> bool:
        """Browsers see a change: the state (`change_key`), or a check or data at least
        DATA_AGE_PUSH_SECONDS newer (both ages are shown). Response times alone are not."""
        if before is None or before.change_key() != self.change_key():
            return True
        return _newer_by_a_step(self.last_check_at, before.last_check_at) or _newer_by_a_step(
            self.data_at, before.data_at
        )

    def change_key(self) -> tuple[Any, ...]:
        """What counts as a change worth pushing (response times vary on every check)."""
        monitors = tuple((m.name, m.status) for m in self.monitors or ())
        return (self.status, self.error, monitors, self.source, self.source_note)


def _newer_by_a_step(now: datetime | None, before: datetime | None) -> bool:
    if now is None:
        return False
    return before is None or (now - before).total_seconds() >= DATA_AGE_PUSH_SECONDS
