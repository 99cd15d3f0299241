"""The subscription scheduler: claims due subscriptions and checks them.

With several app instances or workers, exactly one claims a due check. The claim is
one atomic statement on the row:

    UPDATE youtube_subscriptions SET claimed_by = :me, claimed_until = :now + lease
    WHERE id = :id AND paused = false AND next_check_at <= :now
      AND (claimed_until IS NULL OR claimed_until < :now)

PostgreSQL re-evaluates the WHERE after a competing UPDATE commits (the loser matches
no row); SQLite runs one writer at a time. A scheduler that dies mid-check loses its
claim when the lease (`subscription_claim_seconds`) runs out, and another picks it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import or_, select, update

from medianest.context import AppContext
from medianest.core.logging import get_logger
from medianest.core.loops import stop_loop
from medianest.db.base import utcnow
from medianest.db.engine import forget_after_commit, run_after_commit, session_scope
from medianest.youtube.models import YoutubeSubscription
from medianest.youtube.subscriptions import service as subscriptions

log = get_logger(__name__)

BATCH = 20


class SubscriptionScheduler:
    def __init__(self, ctx: AppContext, *, name: str | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.owner = name or f"{ctx.instance_id}:sched:{uuid.uuid4().hex[:4]}"
        self.wake = subscriptions.wake_event(ctx)
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    # --- claiming ---------------------------------------------------------------------------
    async def claim_due(self, *, limit: int = BATCH) -> list[uuid.UUID]:
        """Claim up to `limit` due subscriptions; ids that another scheduler took are skipped."""
        now = utcnow()
        due = (
            YoutubeSubscription.paused.is_(False),
            YoutubeSubscription.next_check_at <= now,
            or_(
                YoutubeSubscription.claimed_until.is_(None), YoutubeSubscription.claimed_until < now
            ),
        )
        async with session_scope(self.ctx.session_factory) as session:
            candidates = list(
                await session.scalars(
                    select(YoutubeSubscription.id)
                    .where(*due)
                    .order_by(YoutubeSubscription.next_check_at)
                    .limit(limit)
                )
            )
        claimed: list[uuid.UUID] = []
        lease = now + timedelta(seconds=self.settings.subscription_claim_seconds)
        for subscription_id in candidates:
            async with session_scope(self.ctx.session_factory) as session:
                result = await session.execute(
                    update(YoutubeSubscription)
                    .where(YoutubeSubscription.id == subscription_id, *due)
                    .values(claimed_by=self.owner, claimed_until=lease)
                    .execution_options(synchronize_session=False)
                )
            if getattr(result, "rowcount", 0) == 1:
                claimed.append(subscription_id)
        return claimed

    async def run_due(self) -> int:
        """Claim and check every due subscription; returns how many this scheduler checked."""
        checked = 0
        while True:
            batch = await self.claim_due()
            if not batch:
                return checked
            for subscription_id in batch:
                await self.check_claimed(subscription_id)
                checked += 1

    async def check_claimed(self, subscription_id: uuid.UUID) -> subscriptions.CheckResult:
        async with self.ctx.session_factory() as session:
            subscription = await session.get(YoutubeSubscription, subscription_id)
            if subscription is None or subscription.claimed_by != self.owner:
                return subscriptions.CheckResult(0, None, None)
            try:
                result = await subscriptions.check(session, ctx=self.ctx, subscription=subscription)
            except Exception as exc:  # a bug or the database: record it, try next time
                log.exception("youtube_subscription_check_crashed")
                result = subscriptions.CheckResult(
                    0, None, f"Unexpected error: {type(exc).__name__}"
                )
            # Its own unit of work (not `session_scope`): a check that failed is a
            # result to record, not an exception, and what it wrote is undone.
            if result.error is None:
                # What it found and when it looked, in one commit: a list read in
                # between never shows new items with "not yet" checked.
                await session.refresh(subscription, attribute_names=["claimed_by"])
                if subscription.claimed_by == self.owner:
                    _mark_checked(subscription, result)
                await session.commit()
                await run_after_commit(session)  # the new downloads' wake-up
                _log_checked(subscription_id, result)
                return result
            forget_after_commit(session)
            await session.rollback()
        async with session_scope(self.ctx.session_factory) as session:
            subscription = await session.get(YoutubeSubscription, subscription_id)
            if subscription is not None and subscription.claimed_by == self.owner:
                _mark_checked(subscription, result)
        _log_checked(subscription_id, result)
        return result

    # --- the loop ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            await stop_loop(self._task)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
                self.last_error = None
            except Exception as exc:  # the database may be down for a while: keep trying
                self.last_error = type(exc).__name__
                log.warning("youtube_scheduler_loop_failed", error=self.last_error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.subscription_poll_seconds)
            self.wake.clear()


async def start_in_process(ctx: AppContext) -> Callable[[], Awaitable[None]]:
    """Background starter (next to the download workers)."""
    scheduler = SubscriptionScheduler(ctx)
    await scheduler.start()
    return scheduler.stop


def _mark_checked(subscription: YoutubeSubscription, result: subscriptions.CheckResult) -> None:
    """When it was checked, when it is due next, how it went; the claim released."""
    now = utcnow()
    subscription.last_check_at = now
    subscription.next_check_at = now + timedelta(hours=subscription.interval_hours)
    subscription.last_error = result.error
    subscription.claimed_by = None
    subscription.claimed_until = None


def _log_checked(subscription_id: uuid.UUID, result: subscriptions.CheckResult) -> None:
    log.info(
        "youtube_subscription_checked",
        subscription_id=str(subscription_id),
        new_items=result.new_items,
        error=bool(result.error),
    )
