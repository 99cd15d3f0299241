"""The delivery worker: claims due outbox rows with one conditional UPDATE each (so one
instance sends each row, however many run), sends them, and records the outcome: sent,
retried later with exponential backoff, or failed with its reason after the last try.

A claim expires (`CLAIM_SECONDS`): a row claimed by an instance that died is picked up
again, so a crash between sending and recording can send one message twice, never zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import User
from medianest.context import AppContext
from medianest.core.logging import get_logger
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.notifications import channels as channel_service
from medianest.notifications import checks, digest, links, senders, service
from medianest.notifications.models import (
    INAPP_TARGET,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    NotificationDelivery,
)
from medianest.notifications.realtime import NEW_EVENT
from medianest.notifications.schemas import NotificationOut

log = get_logger(__name__)

CLAIM_SECONDS = 120.0
BATCH = 50
PRUNE_EVERY_SECONDS = 3600.0
YTDLP_CHECK_EVERY_SECONDS = 6 * 3600.0
DIGEST_EVERY_SECONDS = 600.0
STOP_TIMEOUT_SECONDS = 5.0

Emit = Callable[[str, str, dict[str, Any]], Awaitable[None]]


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff with ±20 % jitter, so instances do not retry in lockstep."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return float(delay * random.uniform(0.8, 1.2))


def _due(now: datetime) -> Any:
    return or_(
        and_(
            NotificationDelivery.status == DeliveryStatus.PENDING,
            NotificationDelivery.next_attempt_at <= now,
        ),
        and_(
            NotificationDelivery.status == DeliveryStatus.SENDING,
            NotificationDelivery.claimed_until < now,
        ),
    )


async def claim_due(ctx: AppContext, *, limit: int = BATCH) -> list[uuid.UUID]:
    """Claim up to `limit` due deliveries for this instance; each row goes to one claimer."""
    now = utcnow()
    claimed: list[uuid.UUID] = []
    async with session_scope(ctx.session_factory) as session:
        candidates = list(
            await session.scalars(
                select(NotificationDelivery.id)
                .where(_due(now))
                .order_by(NotificationDelivery.next_attempt_at)
                .limit(limit)
            )
        )
        for delivery_id in candidates:
            result = await session.execute(
                update(NotificationDelivery)
                .where(NotificationDelivery.id == delivery_id, _due(now))
                .values(
                    status=DeliveryStatus.SENDING,
                    claimed_by=ctx.instance_id,
                    claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
                )
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(delivery_id)
    return claimed


async def deliver(ctx: AppContext, delivery_id: uuid.UUID, *, emit: Emit) -> str:
    """Send one claimed delivery and record what happened; returns the new status."""
    async with session_scope(ctx.session_factory) as session:
        delivery = await session.get(NotificationDelivery, delivery_id)
        if delivery is None or delivery.claimed_by != ctx.instance_id:
            return "lost"  # deleted, or the claim expired and someone else has it
        notification = await session.get(Notification, delivery.notification_id)
        channel = (
            await session.get(NotificationChannel, delivery.channel_id)
            if delivery.channel_id
            else None
        )
        if notification is None or (delivery.target != INAPP_TARGET and channel is None):
            # By statement: a notification pruned meanwhile took its deliveries with it.
            await session.execute(
                delete(NotificationDelivery).where(NotificationDelivery.id == delivery_id)
            )
            return "dropped"
        await links.resolve(ctx, notification, await session.get(User, notification.user_id))
        outcome = await _send(ctx, session, delivery, notification, channel, emit=emit)
        return _record(ctx, delivery, channel, outcome)


async def _send(
    ctx: AppContext,
    session: AsyncSession,
    delivery: NotificationDelivery,
    notification: Notification,
    channel: NotificationChannel | None,
    *,
    emit: Emit,
) -> senders.SendOutcome:
    if channel is None:
        unread = await service.unread_count(session, user_id=notification.user_id)
        payload = NotificationOut.model_validate(notification).model_dump(
            mode="json", by_alias=True
        )
        await emit(
            str(notification.user_id),
            NEW_EVENT,
            {"notification": payload, "unread": unread},
        )
        return senders.SendOutcome(True)
    message = senders.Message(
        title=notification.title,
        body=notification.body,
        link=notification.link,
        event=notification.event,
        tag=str(notification.id),
    )
    return await channel_service.send_to_channel(
        channel, message, box=ctx.secret_box, vapid=vapid_keys(ctx)
    )


def _record(
    ctx: AppContext,
    delivery: NotificationDelivery,
    channel: NotificationChannel | None,
    outcome: senders.SendOutcome,
) -> str:
    settings = ctx.settings
    delivery.attempts += 1
    delivery.claimed_by = None
    delivery.claimed_until = None
    if channel is not None:
        channel_service.record_outcome(channel, outcome)
    if outcome.ok:
        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = utcnow()
        delivery.last_error = None
    elif outcome.permanent or delivery.attempts >= settings.notification_max_attempts:
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = outcome.reason[:500]
    else:
        delivery.status = DeliveryStatus.PENDING
        delivery.last_error = outcome.reason[:500]
        delivery.next_attempt_at = utcnow() + timedelta(
            seconds=backoff_seconds(
                delivery.attempts,
                base=settings.notification_retry_base_seconds,
                cap=settings.notification_retry_max_seconds,
            )
        )
    log.info(
        "notification_delivery",
        target="inapp" if channel is None else channel.kind,
        status=delivery.status,
        attempts=delivery.attempts,
    )
    return delivery.status


async def run_once(ctx: AppContext, *, emit: Emit) -> int:
    """Claim and send what is due now; returns how many were handled."""
    claimed = await claim_due(ctx)
    for delivery_id in claimed:
        try:
            await deliver(ctx, delivery_id, emit=emit)
        except DBAPIError as exc:
            # The claim expires and another round (here or elsewhere) retries it.
            log.warning("notification_delivery_db_error", error=type(exc).__name__)
    return len(claimed)


def vapid_keys(ctx: AppContext) -> senders.VapidKeys | None:
    """The web push keys (None when none were generated): derived from the secrets."""
    private_key = ctx.secrets.vapid_private_key
    if not private_key:
        return None
    return senders.vapid_keys(private_key, subject=ctx.settings.vapid_subject)


def realtime_emitter(ctx: AppContext) -> Emit:
    async def emit(user_id: str, event: str, data: dict[str, Any]) -> None:
        await ctx.realtime.emit_to_user(user_id, event, data)

    return emit


async def start_in_process(ctx: AppContext) -> Callable[[], Awaitable[None]]:
    """A background part for `app.py`: the delivery loop of this instance."""
    stopping = asyncio.Event()
    task = asyncio.create_task(_forever(ctx, stopping, realtime_emitter(ctx)))

    async def stop() -> None:
        stopping.set()
        await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)

    return stop


async def _forever(ctx: AppContext, stopping: asyncio.Event, emit: Emit) -> None:
    pruned_at = 0.0
    checked_at = float("-inf")  # at start, then every few hours
    digests_at = float("-inf")
    loop = asyncio.get_running_loop()
    while not stopping.is_set():
        handled = 0
        try:
            handled = await run_once(ctx, emit=emit)
            if loop.time() - pruned_at > PRUNE_EVERY_SECONDS:
                async with session_scope(ctx.session_factory) as session:
                    await service.prune_history(session)
                pruned_at = loop.time()
            if loop.time() - digests_at > DIGEST_EVERY_SECONDS:
                digests_at = loop.time()
                await digest.send_due(ctx)
            if loop.time() - checked_at > YTDLP_CHECK_EVERY_SECONDS:
                checked_at = loop.time()
                await checks.check_ytdlp(ctx)
        except (DBAPIError, OSError) as exc:
            log.warning("notification_worker_db_unavailable", error=type(exc).__name__)
        except Exception:
            log.exception("notification_worker_crashed")
        if handled:
            continue  # more may be due at once
        # The pause ends at once on stop: a wake event cleared here lost a stop that came
        # during the round above, and every app stop then waited a full poll.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=ctx.settings.notification_poll_seconds)
