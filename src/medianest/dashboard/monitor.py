"""The status monitor: checks every service in parallel on an interval and pushes changes.

Only the instance holding the `dashboard-status-monitor` lease checks, so several app
instances still make one round per interval. Each round stores the results
(`service_status`), caches the aggregate for 60 s and emits `service:status` for every
service whose state changed. New sockets get the current state from a connect hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError

from medianest.core.context import AppContext
from medianest.core.errors import MediaNestError
from medianest.core.leader import LeaderLease
from medianest.core.logging import get_logger
from medianest.dashboard import service as status_service
from medianest.dashboard.schemas import MonitorStatus, ServiceStatusOut
from medianest.dashboard.service import CheckOutcome
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.integrations.http import ServiceHealth
from medianest.integrations.registry import get_integrations
from medianest.integrations.uptime_kuma import UptimeKumaClient

log = get_logger(__name__)

LEASE_NAME = "dashboard-status-monitor"
STOP_TIMEOUT_SECONDS = 5.0


class HealthChecked(Protocol):
    async def health_check(self) -> ServiceHealth: ...


ClientGetter = Callable[[], Awaitable[HealthChecked | None]]


class StatusMonitor:
    """Checks the services; `run()` loops while this instance holds the lease."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.interval = ctx.settings.health_check_interval_seconds
        self.timeout = ctx.settings.health_check_timeout_seconds
        # A dead leader is replaced within about one TTL; renewal happens every interval.
        self.lease = LeaderLease(ctx, LEASE_NAME, ttl_seconds=2 * self.interval + self.timeout)
        self.rounds = 0
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                if await self.lease.try_acquire():
                    await self.check_all()
            except (DBAPIError, OSError) as exc:
                # The database is away (a restart): expected, retried next round, no traceback.
                log.warning("status_round_failed", error=type(exc).__name__)
            except Exception:  # one bad round must not end the monitor
                log.exception("status_round_failed")
            # An event, not a bare sleep: a driver that swallowed a cancellation cannot
            # keep the loop (and the app's shutdown) going.
            delay = max(0.0, self.interval - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    async def check_all(self) -> list[ServiceStatusOut]:
        """One round: check in parallel, record, cache, push what changed."""
        previous = {e.service: e for e in await status_service.current_status(self.ctx)}
        integrations = get_integrations(self.ctx)
        getters: dict[str, ClientGetter] = {
            "plex": integrations.plex,
            "overseerr": integrations.overseerr,
            "uptime_kuma": integrations.uptime_kuma,
        }
        outcomes = await asyncio.gather(
            *(self._check(name, getters[name]) for name in status_service.SERVICES)
        )
        async with session_scope(self.ctx.session_factory) as session:
            entries = await status_service.record_checks(
                session, list(outcomes), checked_at=utcnow()
            )
            # Cache before the rows commit: a reader between the two would otherwise fall
            # back to the table, which has no Uptime Kuma monitor detail.
            await status_service.cache_status(self.ctx, entries)
        self.rounds += 1
        for entry in entries:
            before = previous.get(entry.service)
            if before is None or before.change_key() != entry.change_key():
                log.info("service_status_changed", service=entry.service, status=entry.status)
                await self.ctx.realtime.emit_status(entry.push_payload())
        return entries

    async def _check(self, name: str, get_client: ClientGetter) -> CheckOutcome:
        started = time.perf_counter()
        client: HealthChecked | None = None
        try:
            async with asyncio.timeout(self.timeout):
                client = await get_client()
                if client is None:
                    return CheckOutcome(service=name, status="unconfigured")
                health = await client.health_check()
                monitors = None
                if isinstance(client, UptimeKumaClient) and health.status != "offline":
                    # After the health check's fresh scrape, so this reuses its answer.
                    monitors = await _kuma_monitors(client)
        except TimeoutError:
            return CheckOutcome(
                service=name,
                status="offline",
                error=f"No answer within {self.timeout:g} s",
                url=_base_url(client),
            )
        except MediaNestError as exc:
            return CheckOutcome(
                service=name, status="offline", error=exc.message, url=_base_url(client)
            )
        except Exception as exc:  # a bug in one client must not hide the others
            log.warning("status_check_failed", service=name, error=type(exc).__name__)
            return CheckOutcome(service=name, status="offline", error="Check failed")
        elapsed = (time.perf_counter() - started) * 1000
        return CheckOutcome(
            service=name,
            status=health.status,
            response_time_ms=health.response_time_ms
            if health.response_time_ms is not None
            else (elapsed if health.status != "offline" else None),
            error=health.error,
            url=_base_url(client),
            monitors=monitors,
        )


async def _kuma_monitors(client: UptimeKumaClient) -> list[MonitorStatus]:
    found = await client.monitors()
    return [
        MonitorStatus(
            name=m.name,
            status=m.status,
            response_time_ms=m.response_time_ms,
            uptime_percentage=round(m.uptime_ratio * 100, 2)
            if m.uptime_ratio is not None
            else None,
        )
        for m in found.monitors
    ]


def _base_url(client: Any) -> str | None:
    # Every client keeps its ResilientClient as `.http`; the URL is only used for a link.
    base = getattr(getattr(client, "http", None), "base_url", None)
    return base if isinstance(base, str) else None


async def send_current_status(ctx: AppContext, sid: str) -> None:
    """Give one socket the whole current state (on connect, reconnect and subscribe)."""
    for entry in await status_service.current_status(ctx):
        await ctx.realtime.emit_to_sid(sid, "service:status", entry.push_payload())


async def start_status_monitor(ctx: AppContext) -> Callable[[], Awaitable[None]]:
    """Background starter: the connect hook everywhere, the monitor loop (lease-guarded)."""
    monitor = StatusMonitor(ctx)
    ctx.services["status_monitor"] = monitor

    async def on_connect(sid: str, _user_id: str) -> None:
        await send_current_status(ctx, sid)

    ctx.realtime.on_connect_hooks.append(on_connect)
    task = asyncio.create_task(monitor.run(), name="status-monitor")

    async def stop() -> None:
        monitor.stopping.set()
        # Let a round in flight finish: cancelled mid-write, its SQLite transaction kept
        # the write lock until collected, and releasing the lease below then waited out
        # the 30 s busy timeout. Checks are bounded by their own timeout.
        await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, STOP_TIMEOUT_SECONDS)
        with contextlib.suppress(ValueError):
            ctx.realtime.on_connect_hooks.remove(on_connect)
        await monitor.lease.release()

    return stop
