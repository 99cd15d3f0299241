"""The status monitor: checks every service in parallel on an interval and pushes changes.

Only the instance holding the `dashboard-status-monitor` lease checks, so several app
instances still make one round per interval; Uptime Kuma's live connection (kuma_live.py)
has a short lease of its own, and its pushes go through `record()` like a round's results.
`record()` stores results (`service_status`), caches the aggregate for 60 s and emits
`service:status` for every service whose state changed. `check()` of some services runs
on any instance (after a save, on Refresh). New sockets get the state from a connect hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError

from medianest.context import AppContext
from medianest.core.context import PerContext
from medianest.core.errors import MediaNestError
from medianest.core.events import publish
from medianest.core.logging import get_logger
from medianest.dashboard import service as status_service
from medianest.dashboard.events import ServicesChanged
from medianest.dashboard.kuma_live import (
    KumaLiveRunner,
    kuma_link_elsewhere,
    live_monitor_statuses,
)
from medianest.dashboard.schemas import MonitorStatus, ServiceStatusOut
from medianest.dashboard.service import CheckOutcome
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.integrations.http import ServiceHealth
from medianest.integrations.outcomes import moment
from medianest.integrations.registry import Integrations
from medianest.integrations.uptime_kuma import UptimeKumaClient
from medianest.integrations.uptime_kuma_live import KumaSignIn, socket_health
from medianest.platform.leader import LeaderLease

log = get_logger(__name__)

LEASE_NAME = "dashboard-status-monitor"
REFRESH_KEY = "dashboard-refresh"
REFRESH_WINDOW_SECONDS = 10
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
        # One writer at a time: a round and a live push must not interleave their reads
        # of the previous aggregate and their writes of the new one.
        self._record_lock = asyncio.Lock()
        # What open dashboards were last sent of each service: the ages they show step on
        # from there, whatever the round's length (a 5 s round must not stop them).
        self._pushed: dict[str, ServiceStatusOut] = {}
        self.kuma_live: KumaLiveRunner | None = None

    async def run(self) -> None:
        if self.kuma_live is not None:
            # Kuma's live link takes its own lease first; bounded, a stuck turn must not
            # hold up the other services.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.kuma_live.first_turn_done.wait(), self.timeout)
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
        """One round: check every service in parallel, record, cache, push what changed."""
        entries = await self.check(status_service.SERVICES)
        self.rounds += 1
        return entries

    async def check(self, names: Sequence[str]) -> list[ServiceStatusOut]:
        """Check these services now and record them; returns the whole new aggregate."""
        integrations = self.ctx.integrations
        getters: dict[str, ClientGetter] = {
            "plex": integrations.plex,
            "overseerr": integrations.overseerr,
            "uptime_kuma": integrations.uptime_kuma,
        }
        outcomes = await asyncio.gather(
            *(
                self._check_kuma(integrations)
                if name == "uptime_kuma"
                else self._check(name, getters[name])
                for name in names
            )
        )
        return await self.record([o for o in outcomes if o is not None])

    async def record(
        self, outcomes: list[CheckOutcome], *, count: bool = True
    ) -> list[ServiceStatusOut]:
        """Store outcomes into the aggregate, cache it, push the entries that changed."""
        async with self._record_lock:
            previous = {e.service: e for e in await status_service.current_status(self.ctx)}
            async with session_scope(self.ctx.session_factory) as session:
                fresh = await status_service.record_checks(
                    session, outcomes, checked_at=utcnow(), count=count
                )
                await publish(
                    session,
                    ServicesChanged(
                        before={n: e.status for n, e in previous.items() if e.last_check_at},
                        after={e.service: e.status for e in fresh},
                        names={
                            e.service: self.ctx.integrations.display_name(e.service) for e in fresh
                        },
                    ),
                )
                merged = previous | {e.service: e for e in fresh}
                entries = [merged[n] for n in status_service.SERVICES if n in merged]
                # Cache before the rows commit: a reader between the two would otherwise
                # fall back to the table, which has no Uptime Kuma monitor detail. Push
                # before it too: browsers need not wait for the database's write.
                await status_service.cache_status(self.ctx, entries)
                for entry in fresh:
                    before = previous.get(entry.service)
                    if before is None or before.change_key() != entry.change_key():
                        log.info(
                            "service_status_changed", service=entry.service, status=entry.status
                        )
                    if entry.worth_pushing(self._pushed.get(entry.service, before)):
                        self._pushed[entry.service] = entry
                        await self.ctx.realtime.emit_status(entry.push_payload())
        return entries

    async def _check_kuma(self, integrations: Integrations) -> CheckOutcome | None:
        """Uptime Kuma: the live link's state while it is up (here, or None when another
        instance holds it); else a poll, labelled with why the live source is not used."""
        live = self.kuma_live
        if live is not None and live.is_live():
            return live.outcome()
        if (live is None or not live.holds_link()) and await kuma_link_elsewhere(self.ctx):
            # The holder records Kuma (live, or its own poll while the link is down): a
            # poll here would overwrite live data, or sign in beside a refused link.
            return None
        sign_in = await integrations.kuma_sign_in()
        if sign_in is not None and live is not None and live.coming_up():
            return None
        note = live.note() if live is not None else None
        if sign_in is not None and await integrations.uptime_kuma() is None:
            waiting = live.signing_in(sign_in.url) if live is not None else None
            if waiting is not None:
                return waiting
            refusal = live.refused() if live is not None else None
            if refusal is not None:  # signing in again would only be refused again
                return CheckOutcome(
                    service="uptime_kuma",
                    status="degraded",
                    error=refusal,
                    url=sign_in.url,
                    source="polling",
                    source_note=note,
                )
            return await self._check_kuma_by_sign_in(sign_in, note)
        outcome = await self._check("uptime_kuma", integrations.uptime_kuma)
        if outcome.status == "unconfigured":
            return outcome
        known = live.last_known() if live is not None and outcome.monitors is None else None
        if known is not None:
            # The poll got nothing either (Kuma is away): keep showing what the live link
            # last knew, with its age, rather than an empty card.
            outcome = dataclasses.replace(outcome, monitors=known[0], data_at=known[1])
        return dataclasses.replace(outcome, source="polling", source_note=note)

    async def _check_kuma_by_sign_in(self, sign_in: KumaSignIn, note: str | None) -> CheckOutcome:
        """No polling path is configured: one sign-in, its first lists, and out."""
        health, link = await socket_health(sign_in, wait_seconds=self.timeout)
        monitors = live_monitor_statuses(link) if link is not None else None
        return CheckOutcome(
            service="uptime_kuma",
            status=health.status,
            response_time_ms=health.response_time_ms,
            error=health.error,
            url=sign_in.url,
            monitors=monitors,
            source="polling",
            data_at=utcnow() if link is not None else None,
            source_note=note,
        )

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
                data_at = None
                if isinstance(client, UptimeKumaClient) and health.status != "offline":
                    # After the health check's fresh scrape, so this reuses its answer.
                    monitors, read_at = await _kuma_monitors(client)
                    data_at = moment(read_at) or utcnow()
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
        # Outside the check's time: storing a changed name is not the service's answer.
        await self.ctx.integrations.learn_name(name, health, url=_base_url(client))
        return CheckOutcome(
            service=name,
            status=health.status,
            response_time_ms=health.response_time_ms
            if health.response_time_ms is not None
            else (elapsed if health.status != "offline" else None),
            error=health.error,
            url=_base_url(client),
            monitors=monitors,
            data_at=data_at,
        )


async def _kuma_monitors(client: UptimeKumaClient) -> tuple[list[MonitorStatus], float | None]:
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
    ], found.read_at


def _base_url(client: Any) -> str | None:
    # Every client keeps its ResilientClient as `.http`; the URL is only used for a link.
    base = getattr(getattr(client, "http", None), "base_url", None)
    return base if isinstance(base, str) else None


# The monitor of each app context that started one (none in a bare app).
_monitors: PerContext[StatusMonitor] = PerContext()


def status_monitor_of(ctx: AppContext) -> StatusMonitor | None:
    return _monitors.get(ctx)


async def check_now(ctx: AppContext, names: Sequence[str]) -> list[ServiceStatusOut]:
    """Check these services now on this instance (any instance) and push what changed."""
    monitor = _monitors.get(ctx)
    if monitor is None:
        return await status_service.current_status(ctx)  # no monitor runs (a bare app)
    return await monitor.check(names)


async def refresh(ctx: AppContext) -> list[ServiceStatusOut]:
    """The dashboard's Refresh: check every service now. Once per window for everyone:
    the services are shared, and a Refresh held down must not hammer them."""
    allowed = await ctx.rate_limiter.hit(
        REFRESH_KEY, limit=1, window_seconds=REFRESH_WINDOW_SECONDS
    )
    allowed.raise_if_exceeded("The services were checked moments ago; try again shortly.")
    return await check_now(ctx, status_service.SERVICES)


async def send_current_status(ctx: AppContext, sid: str) -> None:
    """Give one socket the whole current state (on connect, reconnect and subscribe)."""
    for entry in await status_service.current_status(ctx):
        await ctx.realtime.emit_to_sid(sid, "service:status", entry.push_payload())


async def start_status_monitor(ctx: AppContext) -> Callable[[], Awaitable[None]]:
    """Background starter: the connect hook everywhere, the monitor loop (lease-guarded)."""
    monitor = StatusMonitor(ctx)
    _monitors.set(ctx, monitor)

    async def on_connect(sid: str, _user_id: str) -> None:
        await send_current_status(ctx, sid)

    ctx.realtime.on_connect_hooks.append(on_connect)
    kuma_live = monitor.kuma_live = KumaLiveRunner(ctx, monitor)
    kuma_task = asyncio.create_task(kuma_live.run(), name="uptime-kuma-live-runner")
    task = asyncio.create_task(monitor.run(), name="status-monitor")

    async def stop() -> None:
        await kuma_live.stop()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(kuma_task, STOP_TIMEOUT_SECONDS)
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
        _monitors.pop(ctx)

    return stop
