"""The Uptime Kuma client: monitor status, response time and uptime.

Two read paths (contracts/uptime-kuma.md). The default is the Prometheus
`/metrics` endpoint when an API key is configured (HTTP Basic, the key as the
password), otherwise the public status page named by `config_data["statusPage"]`.
`config_data["source"]` ("metrics" | "status_page") overrides the choice, e.g.
metrics on an instance with authentication disabled; "socket" prefers the live
connection (uptime_kuma_live.py) and polls the path chosen as above while it is down. Kuma rate-limits /metrics
to about 60 requests a minute, so answers younger than 25 s are reused.
"""

from __future__ import annotations

import base64
import math
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from medianest.core.errors import ServiceUnavailable, UpstreamError
from medianest.integrations.http import Fetched, ResilientClient, ServiceHealth, UpstreamHTTPError
from medianest.integrations.outcomes import oldest

MonitorStatus = Literal["up", "down", "pending", "maintenance"]
KumaSource = Literal["metrics", "status_page"]

STATUS_BY_CODE: dict[int, MonitorStatus] = {0: "down", 1: "up", 2: "pending", 3: "maintenance"}
# Kuma allows ~60 scrapes a minute; a dashboard polled by many browsers must not exceed it.
FRESH_SECONDS = 25.0
UPTIME_WINDOW = "1d"


class KumaMonitor(BaseModel):
    id: int | None = None
    name: str
    type: str | None = None
    url: str | None = None
    status: MonitorStatus
    response_time_ms: float | None = None
    uptime_ratio: float | None = None
    cert_days_remaining: int | None = None


class KumaMonitors(BaseModel):
    source: KumaSource
    monitors: list[KumaMonitor]
    stale: bool = False
    read_at: float | None = None  # when Kuma gave it (epoch seconds; None: not cached)


class _StatusPageMonitor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int
    name: str
    type: str | None = None
    url: str | None = None


class _StatusPageGroup(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str = ""
    monitor_list: list[_StatusPageMonitor] = Field(default_factory=list, alias="monitorList")


class _StatusPage(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    public_group_list: list[_StatusPageGroup] = Field(default_factory=list, alias="publicGroupList")


class _Heartbeat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: int
    ping: float | None = None


class _Heartbeats(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    heartbeat_list: dict[str, list[_Heartbeat]] = Field(default_factory=dict, alias="heartbeatList")
    uptime_list: dict[str, float] = Field(default_factory=dict, alias="uptimeList")


def basic_auth_headers(api_key: str) -> dict[str, str]:
    """Kuma takes the API key as the Basic password; the username is ignored."""
    encoded = base64.b64encode(f"medianest:{api_key}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def choose_source(*, api_key_set: bool, config: dict[str, Any]) -> KumaSource | None:
    """Metrics with a key, else the status page when a slug is configured; None = unusable."""
    explicit = config.get("source")
    if explicit == "socket":  # the live source: poll the same way as without a choice
        explicit = None
    slug = config.get("statusPage")
    if explicit == "metrics" or (explicit is None and api_key_set):
        return "metrics"
    if explicit in (None, "status_page") and slug:
        return "status_page"
    return None


class UptimeKumaClient:
    def __init__(
        self,
        http: ResilientClient,
        *,
        source: KumaSource,
        status_page: str | None = None,
        health_timeout: float = 3.0,
    ) -> None:
        if source == "status_page" and not status_page:
            raise ValueError("the status page source needs a status page slug")
        self.http = http
        self.source: KumaSource = source
        self.status_page = status_page
        self.health_timeout = health_timeout

    async def monitors(self, *, fresh_ttl: float = FRESH_SECONDS) -> KumaMonitors:
        """Every monitor with its status; stale (with when it was read) when Kuma is down."""
        if self.source == "metrics":
            fetched = await self._scrape(fresh_ttl=fresh_ttl)
            monitors = parse_metrics(fetched.data)
            return KumaMonitors(
                source="metrics",
                monitors=monitors,
                stale=fetched.stale,
                read_at=fetched.read_at,
            )
        page, beats = await self._status_page(fresh_ttl=fresh_ttl)
        return KumaMonitors(
            source="status_page",
            monitors=self._merge_status_page(page, beats),
            stale=page.stale or beats.stale,
            read_at=oldest(page.read_at, beats.read_at),
        )

    async def health_check(self) -> ServiceHealth:
        """Reachability and latency of the configured read path."""
        started = time.monotonic()
        try:
            if self.source == "metrics":
                fetched = await self._scrape(fresh_ttl=0, try_timeout=self.health_timeout)
                parse_metrics(fetched.data)
            else:
                page, _ = await self._status_page(fresh_ttl=0, try_timeout=self.health_timeout)
                fetched = page
        except ServiceUnavailable as exc:
            return ServiceHealth(status="offline", error=exc.message)
        except UpstreamError as exc:
            # It answered, but not usefully (a rejected key, a wrong slug, garbage).
            elapsed = round((time.monotonic() - started) * 1000, 1)
            reason = (
                "API key rejected"
                if isinstance(exc, UpstreamHTTPError) and exc.upstream_status in (401, 403)
                else exc.message
            )
            return ServiceHealth(status="degraded", response_time_ms=elapsed, error=reason)
        elapsed = round((time.monotonic() - started) * 1000, 1)
        if fetched.stale:
            return ServiceHealth(status="offline", error="Uptime Kuma is unreachable.")
        return ServiceHealth(status="online", response_time_ms=elapsed)

    async def _scrape(self, *, fresh_ttl: float, try_timeout: float | None = None) -> Fetched:
        return await self.http.get_text(
            "/metrics",
            cache_key="metrics",
            fresh_ttl=fresh_ttl,
            accept=parse_metrics,
            timeout=try_timeout,
        )

    async def _status_page(
        self, *, fresh_ttl: float, try_timeout: float | None = None
    ) -> tuple[Fetched, Fetched]:
        slug = self.status_page
        page = await self.http.get_json(
            f"/api/status-page/{slug}",
            cache_key=f"page:{slug}",
            fresh_ttl=fresh_ttl,
            accept=lambda data: self.http.parse(_StatusPage, data),
            timeout=try_timeout,
        )
        beats = await self.http.get_json(
            f"/api/status-page/heartbeat/{slug}",
            cache_key=f"beats:{slug}",
            fresh_ttl=fresh_ttl,
            accept=lambda data: self.http.parse(_Heartbeats, data),
            timeout=try_timeout,
        )
        return page, beats

    def _merge_status_page(self, page: Fetched, beats: Fetched) -> list[KumaMonitor]:
        layout = self.http.parse(_StatusPage, page.data)
        heartbeats = self.http.parse(_Heartbeats, beats.data)
        monitors: list[KumaMonitor] = []
        seen: set[int] = set()
        for group in layout.public_group_list:
            for item in group.monitor_list:
                if item.id in seen:
                    continue
                seen.add(item.id)
                history = heartbeats.heartbeat_list.get(str(item.id), [])
                last = history[-1] if history else None
                monitors.append(
                    KumaMonitor(
                        id=item.id,
                        name=item.name,
                        type=item.type,
                        url=item.url,
                        status=STATUS_BY_CODE.get(last.status, "pending") if last else "pending",
                        response_time_ms=last.ping if last else None,
                        uptime_ratio=heartbeats.uptime_list.get(f"{item.id}_24"),
                    )
                )
        return monitors


def parse_metrics(text: Any) -> list[KumaMonitor]:
    """Monitors from Kuma's Prometheus exposition (1.x and 2.x label sets)."""
    if not isinstance(text, str):
        raise UpstreamError("Uptime Kuma returned no metrics.", details={"service": "uptime_kuma"})
    # On first use: a portal that does not poll Kuma's /metrics never loads prometheus_client.
    from prometheus_client.parser import text_string_to_metric_families

    rows: dict[str, dict[str, Any]] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if "monitor_name" not in labels:
                    continue
                row = rows.setdefault(
                    labels.get("monitor_id") or labels["monitor_name"], {"labels": labels}
                )
                window = labels.get("window")
                if window is None or window == UPTIME_WINDOW:
                    row[sample.name] = sample.value
    except ValueError:
        raise UpstreamError(
            "Uptime Kuma returned malformed metrics.", details={"service": "uptime_kuma"}
        ) from None
    monitors = [_monitor_from_row(row) for row in rows.values() if "monitor_status" in row]
    return sorted(monitors, key=lambda m: (m.id is None, m.id or 0, m.name))


def _known(value: float | None) -> float | None:
    """A sample's value, None for NaN and the infinities (valid samples that say nothing)."""
    return value if value is not None and math.isfinite(value) else None


def _monitor_from_row(row: dict[str, Any]) -> KumaMonitor:
    labels: dict[str, str] = row["labels"]
    response_time = _known(row.get("monitor_response_time"))
    cert_days = _known(row.get("monitor_cert_days_remaining"))
    status = _known(row["monitor_status"])
    monitor_id = labels.get("monitor_id")
    url = labels.get("monitor_url")
    return KumaMonitor(
        id=int(monitor_id) if monitor_id and monitor_id.isdigit() else None,
        name=labels["monitor_name"],
        type=labels.get("monitor_type"),
        url=None if url in (None, "", "null") else url,
        status=STATUS_BY_CODE.get(int(status), "pending") if status is not None else "pending",
        response_time_ms=response_time
        if response_time is not None and response_time >= 0
        else None,
        uptime_ratio=_known(row.get("monitor_uptime_ratio")),
        cert_days_remaining=int(cert_days) if cert_days is not None else None,
    )
