"""Uptime Kuma's live connection, run by the one instance holding its own short lease.

The lease (`uptime-kuma-live`, 15 s, renewed every 5 s, released on a clean stop) is
independent of the status monitor's, whose period is the health-check interval: when the
holder stops or dies, another instance signs in within seconds, not after minutes.
While the configured source is "socket", the holder keeps a `KumaLiveLink` signed in and
records each change it brings through `StatusMonitor.record()`, which caches it and emits
`service:status` (Redis fans it out to every instance's browsers). A marker in the shared
cache tells the other instances that a link is held here, so their checks (a save, a
Refresh, their own health rounds) leave Uptime Kuma to the holder: they neither overwrite
live data with a poll nor sign in with the password themselves while the holder's link is
refused or down (each such sign-in would make Kuma send every list again, and count
against its login limit). While the link is down or refused, the holder polls Uptime Kuma
every `FALLBACK_POLL_SECONDS`, labelled "polling" with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from medianest.context import AppContext
from medianest.core.logging import get_logger
from medianest.dashboard.schemas import MonitorStatus
from medianest.dashboard.service import CheckOutcome
from medianest.db.base import utcnow
from medianest.integrations.outcomes import moment
from medianest.integrations.uptime_kuma_live import KumaLiveLink, KumaSignIn
from medianest.platform.leader import LeaderLease

if TYPE_CHECKING:  # the monitor imports this module at run time
    from medianest.dashboard.monitor import StatusMonitor

log = get_logger(__name__)

LEASE_NAME = "uptime-kuma-live"
# A dead holder is replaced within the TTL; a live one renews well before it ends, and a
# holder that cannot renew drops its link at once, so two links never overlap.
LEASE_TTL_SECONDS = 15.0
LEASE_RENEW_SECONDS = 5.0
LINK_MARKER_KEY = "uptime_kuma:link"
LINK_MARKER_TTL_SECONDS = 10.0
LINK_MARKER_RENEW_SECONDS = 3.0
# How often the holder looks at its lease and the configuration when nothing happens.
SUPERVISE_SECONDS = 1.0
# Today's polling cadence while the live source is down (Kuma rate-limits /metrics).
FALLBACK_POLL_SECONDS = 30.0
# A dropped link that is back within this long (a Kuma restart) changes nothing shown;
# after it, the first poll runs.
RECONNECT_GRACE_SECONDS = 5.0
# Unchanged live data is re-recorded this often, so the data age shown stays honest:
# cached, stored (one row write) and pushed to browsers (schemas.DATA_AGE_PUSH_SECONDS).
# Kuma's unchanged heartbeats in between cost neither a write nor a push.
REFRESH_RECORD_SECONDS = 15.0


def live_monitor_statuses(link: KumaLiveLink) -> list[MonitorStatus]:
    """The link's active monitors as the dashboard shows them, in Kuma's id order."""
    return [
        MonitorStatus(
            name=m.name,
            status=m.status,
            response_time_ms=m.ping if m.status == "up" else None,
            uptime_percentage=round(m.uptime_24h * 100, 2) if m.uptime_24h is not None else None,
        )
        for m in sorted(link.monitors.values(), key=lambda m: m.id)
        if m.active
    ]


async def kuma_link_elsewhere(ctx: AppContext) -> bool:
    """Another instance holds the Kuma link, live or not (its marker is in the shared
    cache): it records Uptime Kuma's state, polling while its link is down."""
    marker = await ctx.cache.get(LINK_MARKER_KEY)
    return isinstance(marker, dict) and marker.get("holder") != ctx.instance_id


class KumaLiveRunner:
    """Starts, stops and listens to the live link on the lease holder."""

    def __init__(self, ctx: AppContext, monitor: StatusMonitor) -> None:
        self.ctx = ctx
        self.monitor = monitor
        self.lease = LeaderLease(ctx, LEASE_NAME, ttl_seconds=LEASE_TTL_SECONDS)
        self._lease_renewed_at = 0.0
        self.link: KumaLiveLink | None = None
        self.sign_in: KumaSignIn | None = None
        self.stopping = asyncio.Event()
        # Set after the first turn: the monitor's first round waits for it, so it knows
        # whether this instance took the lease and a poll would only cost a login.
        self.first_turn_done = asyncio.Event()
        self._changed = asyncio.Event()
        self._link_task: asyncio.Task[None] | None = None
        self._recorded_key: int | None = None
        self._recorded_at = 0.0
        self._marker_at = 0.0
        self._polled_at = 0.0
        self._was_live = False
        self._started_at = 0.0

    # --- what the monitor asks ---------------------------------------------------------
    def holds_link(self) -> bool:
        return self.link is not None

    def coming_up(self) -> bool:
        """This instance holds the lease and its link is starting (or back within the
        grace): the link will record Kuma's state, a poll now would only cost a login."""
        if not self.lease.held:
            return False
        if self.link is None:
            return True
        return (
            self.link.state in ("connecting", "disconnected")
            and time.monotonic() - self._started_at < RECONNECT_GRACE_SECONDS
        )

    def is_live(self) -> bool:
        return self.link is not None and self.link.state == "live"

    def note(self) -> str | None:
        """Why the configured live source is not in use, for the dashboard."""
        if self.link is None or self.link.state == "live":
            return None
        if self.link.error:
            return f"Live connection: {self.link.error}"
        return "Live connection: connecting."

    def refused(self) -> str | None:
        """Kuma's refusal of the sign-in, while the link is refused (a retry would be too)."""
        if self.link is not None and self.link.state == "refused":
            return self.link.error
        return None

    def signing_in(self, url: str) -> CheckOutcome | None:
        """Kuma asked for the link's sign-in and is still sending its lists (minutes on a
        big Kuma): it is up, and a poll's own sign-in would make it send them all again."""
        if self.link is None or not self.link.signing_in:
            return None
        known = self.last_known()
        return CheckOutcome(
            service="uptime_kuma",
            status="online",
            url=url,
            monitors=known[0] if known else None,
            source="polling",
            data_at=known[1] if known else None,
            source_note="Live connection: signing in, Uptime Kuma is still sending its lists.",
        )

    def last_known(self) -> tuple[list[MonitorStatus], datetime] | None:
        """The monitors as the link last knew them and when, while it is down."""
        link = self.link
        if link is None or not link.monitors or link.last_event_at is None:
            return None
        return live_monitor_statuses(link), datetime.fromtimestamp(link.last_event_at, UTC)

    def outcome(self) -> CheckOutcome:
        """Uptime Kuma as the live link knows it."""
        assert self.link is not None and self.sign_in is not None
        last = self.link.last_event_at
        return CheckOutcome(
            service="uptime_kuma",
            status="online",
            url=self.sign_in.url,
            monitors=live_monitor_statuses(self.link),
            source="live",
            data_at=moment(last) or utcnow(),
        )

    # --- the loop ----------------------------------------------------------------------
    async def run(self) -> None:
        while not self.stopping.is_set():
            try:
                await self._supervise()
                await self._publish()
            except Exception:  # one bad turn must not end the live source
                log.exception("kuma_live_turn_failed")
            self.first_turn_done.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), SUPERVISE_SECONDS)
            self._changed.clear()

    async def stop(self) -> None:
        self.stopping.set()
        self.first_turn_done.set()
        self._changed.set()
        await self._stop_link()
        # After the link is closed: the next holder's sign-in never overlaps ours.
        await self.lease.release()

    async def _hold_lease(self, wanted: KumaSignIn | None) -> bool:
        """Take or renew the live link's lease while the source is live; give it up when
        the source changes away. Renewed every few seconds, tried each turn while free."""
        if wanted is None:
            if self.lease.held:
                await self._stop_link()
                await self.lease.release()
            return False
        now = time.monotonic()
        due = not self.lease.held or now - self._lease_renewed_at >= LEASE_RENEW_SECONDS
        if due and await self.lease.try_acquire():
            self._lease_renewed_at = now
        return self.lease.held

    async def _supervise(self) -> None:
        """Hold a link exactly while this instance holds the lease and the source is live."""
        configured = await self.ctx.integrations.kuma_sign_in()
        had_link = self.link is not None
        wanted = configured if await self._hold_lease(configured) else None
        if wanted != self.sign_in or (had_link and self.link is None):
            await self._stop_link()
            if wanted is not None:
                self._start_link(wanted)
            elif had_link and configured is None:
                # The source changed away from live: replace the live entry at once.
                await self.monitor.check(["uptime_kuma"])
        live = self.is_live()
        now = time.monotonic()
        if live and not self._was_live:
            self._recorded_key = None  # (back) live: record it even if no monitor changed
        if self.link is not None and now - self._marker_at >= LINK_MARKER_RENEW_SECONDS:
            await self.ctx.cache.set(
                LINK_MARKER_KEY, {"holder": self.ctx.instance_id}, LINK_MARKER_TTL_SECONDS
            )
            self._marker_at = now
        if self._was_live and not live:
            # Fall back after the grace, not a whole poll interval later.
            self._polled_at = now - FALLBACK_POLL_SECONDS + RECONNECT_GRACE_SECONDS
        self._was_live = live
        if self.link is not None and not live and now - self._polled_at >= FALLBACK_POLL_SECONDS:
            self._polled_at = now
            await self.monitor.check(["uptime_kuma"])

    async def _publish(self) -> None:
        """Record the live state when it changed (pushed at once) or is due a refresh."""
        if not self.is_live():
            return
        # Woken by every heartbeat (1-10 a second from a big Kuma, nearly all unchanged):
        # one number compared, not the whole list built, unless there is something to record.
        assert self.link is not None
        key = self.link.events.revision
        now = time.monotonic()
        if key == self._recorded_key and now - self._recorded_at < REFRESH_RECORD_SECONDS:
            return
        self._recorded_key, self._recorded_at = key, now
        await self.monitor.record([self.outcome()], count=False)

    def _start_link(self, sign_in: KumaSignIn) -> None:
        self.sign_in = sign_in
        self.link = KumaLiveLink(
            sign_in.url,
            username=sign_in.username,
            password=sign_in.password,
            on_change=self._changed.set,
            ca_bundle=sign_in.ca_bundle,
        )
        self._link_task = asyncio.create_task(self.link.run(), name="uptime-kuma-live")
        self._recorded_key = None
        self._started_at = time.monotonic()
        # Polled only if the link is not up within the grace.
        self._polled_at = time.monotonic() - FALLBACK_POLL_SECONDS + RECONNECT_GRACE_SECONDS
        log.info("kuma_live_started", url=sign_in.url)

    async def _stop_link(self) -> None:
        link, task = self.link, self._link_task
        self.link, self._link_task, self.sign_in = None, None, None
        if link is not None:
            await link.stop()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 5.0)
        self._was_live = False
        if self._marker_at:
            self._marker_at = 0.0
            await self.ctx.cache.delete(LINK_MARKER_KEY)
