"""Keeping our request statuses in step with Overseerr: its webhook, a periodic reconcile,
and the Socket.IO pushes (`request:status`, `notification`) to each request's owner.

Changes are committed before they are pushed, so a client that re-reads after an event
sees the new status.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.context import AppContext
from medianest.core.errors import MediaNestError, Unauthenticated, ValidationFailed
from medianest.core.events import publish
from medianest.core.logging import get_logger
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.integrations.overseerr import OverseerrClient
from medianest.integrations.overseerr_models import (
    MAX_ID,
    MEDIA_STATUS_BY_NAME,
    NOTIFICATION_REQUEST_STATUS,
    LocalStatus,
    MediaStatus,
    local_status,
    request_local_status,
)
from medianest.media import webhook_setup
from medianest.media.events import RequestStatusesChanged, StatusChange
from medianest.media.models import MediaRequest, RequestStatus
from medianest.media.service import FINAL_STATUSES, OPEN_STATUSES
from medianest.platform.leader import LeaderLease

log = get_logger(__name__)

RECONCILE_LEASE = "media-request-reconcile"
RECONCILE_BATCH = 200
RECONCILE_CURSOR = "media-request-reconcile-cursor"  # the last Overseerr id checked
RECONCILE_CURSOR_TTL = 7 * 24 * 3600.0
STOP_TIMEOUT_SECONDS = 5.0
NOTIFICATION_TYPES = {
    RequestStatus.AVAILABLE: "success",
    RequestStatus.DECLINED: "error",
    RequestStatus.FAILED: "error",
    RequestStatus.REMOVED: "error",
}
STATUS_WORDS = {
    RequestStatus.PENDING: "is waiting for approval",
    RequestStatus.APPROVED: "was approved",
    RequestStatus.PROCESSING: "was approved and is being downloaded",
    RequestStatus.AVAILABLE: "is now available in Plex",
    RequestStatus.DECLINED: "was declined",
    RequestStatus.FAILED: "failed",
    RequestStatus.REMOVED: "was removed in {service}",
}


# --- webhook --------------------------------------------------------------------------
class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WebhookMedia(_Loose):
    media_type: str | None = None
    tmdbId: str | int | None = None  # noqa: N815  (Overseerr's template names)
    status: str | None = None


class WebhookRequest(_Loose):
    request_id: str | int | None = None


class WebhookPayload(_Loose):
    notification_type: str
    media: WebhookMedia | None = None
    request: WebhookRequest | None = None


async def webhook_secret(session: AsyncSession, ctx: AppContext) -> str | None:
    """The shared secret in force (see `webhook_setup.current_secret`)."""
    return await webhook_setup.current_secret(session, ctx)


def check_webhook_authorization(presented: str | None, secret: str | None) -> None:
    """Constant-time comparison of the `Authorization` header with the shared secret."""
    if not secret:
        raise Unauthenticated("The Overseerr webhook is not configured.")
    candidate = (presented or "").strip()
    if candidate.lower().startswith("bearer "):
        candidate = candidate[7:].strip()
    if not hmac.compare_digest(candidate.encode(), secret.encode()):
        raise Unauthenticated("The webhook secret is missing or wrong.")


def parse_webhook(body: Any) -> WebhookPayload:
    try:
        # JSON may carry a lone surrogate ("\ud800"): no text we keep or log may hold one.
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ValidationFailed("The webhook payload is not valid Unicode text.") from None
    try:
        payload = WebhookPayload.model_validate(body)
    except ValidationError:
        raise ValidationFailed("The webhook payload is not an Overseerr notification.") from None
    # Checked here, before any query: an id no column can hold is a malformed payload.
    if payload.request is not None:
        _webhook_id(payload.request.request_id, "request.request_id")
    if payload.media is not None:
        _webhook_id(payload.media.tmdbId, "media.tmdbId")
    return payload


def _webhook_id(value: str | int | None, field: str) -> int | None:
    """An id of a notification: None when absent (""), else a positive ASCII-digit id
    that fits the column; anything else (a "²", 23 or 5,000 digits) is a 400."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID)):
            number = int(text)
    if number is None or not 0 < number <= MAX_ID:
        raise ValidationFailed("The webhook payload has an invalid id.", details={"field": field})
    return number


# Where a request stands on its way; a notification never moves a request back (they
# may arrive out of order or twice). Final statuses are never left by a notification:
# the reconciler, which reads Overseerr's current state, corrects anything else.
_STATUS_RANK = {
    RequestStatus.PENDING.value: 0,
    RequestStatus.APPROVED.value: 1,
    RequestStatus.PROCESSING.value: 2,
    RequestStatus.AVAILABLE.value: 3,
    RequestStatus.DECLINED.value: 3,
    RequestStatus.FAILED.value: 3,
    RequestStatus.REMOVED.value: 3,
}


async def apply_webhook(
    session: AsyncSession, payload: WebhookPayload, *, service_name: str
) -> list[StatusChange]:
    """Apply a request notification to the rows it is about; others change nothing
    (`service_name`: what the request service is called here, for the notifications)."""
    request_status = NOTIFICATION_REQUEST_STATUS.get(payload.notification_type)
    if request_status is None:
        return []
    media = payload.media
    media_status = MEDIA_STATUS_BY_NAME.get((media.status or "").upper()) if media else None
    status = local_status(request_status, media_status)
    rows, status = await _rows_for(session, payload, status, media_status)
    forward = [row for row in rows if _STATUS_RANK[status] > _STATUS_RANK.get(row.status, -1)]
    changes = [change for row in forward if (change := _set_status(row, status)) is not None]
    await publish(session, RequestStatusesChanged(tuple(changes), service_name))
    return changes


async def _rows_for(
    session: AsyncSession, payload: WebhookPayload, status: LocalStatus, media_status: int | None
) -> tuple[list[MediaRequest], LocalStatus]:
    """The rows a notification moves, and to what."""
    overseerr_id = _webhook_id(payload.request.request_id, "") if payload.request else None
    if overseerr_id is not None:
        row = await session.scalar(
            select(MediaRequest).where(MediaRequest.overseerr_id == overseerr_id)
        )
        if row is not None:
            return [row], status
        # Overseerr notifies per request: this is someone else's (made in Overseerr, or
        # 4K), whose approval, decline or failure says nothing of ours. Only the title
        # (not 4K) being wholly in Plex fulfils ours too.
        if media_status != MediaStatus.AVAILABLE:
            return [], status
        status = "available"
    media = payload.media
    tmdb_id = _webhook_id(media.tmdbId, "") if media else None
    if media is None or tmdb_id is None or media.media_type not in ("movie", "tv"):
        return [], status
    # The title as a whole (or a template without `{{request}}`, before Overseerr 1.20):
    # every open request of it follows.
    rows = await session.scalars(
        select(MediaRequest).where(
            MediaRequest.tmdb_id == tmdb_id,
            MediaRequest.media_type == media.media_type,
            MediaRequest.status.in_([s.value for s in OPEN_STATUSES]),
        )
    )
    return list(rows), status


def _set_status(row: MediaRequest, status: str) -> StatusChange | None:
    if row.status == status:
        return None
    row.status = status
    row.updated_at = utcnow()
    row.completed_at = utcnow() if status in FINAL_STATUSES else None
    return StatusChange(str(row.id), str(row.user_id), row.title, status)


async def announce(ctx: AppContext, changes: list[StatusChange]) -> None:
    """Push each change to its owner's room: the new status and a readable notification."""
    service = ctx.integrations.display_name("overseerr")
    for change in changes:
        status = RequestStatus(change.status)
        await ctx.realtime.emit_to_user(
            change.user_id, "request:status", {"requestId": change.request_id, "status": status}
        )
        await ctx.realtime.emit_to_user(
            change.user_id,
            "notification",
            {
                "type": NOTIFICATION_TYPES.get(status, "info"),
                "message": f'Your request for "{change.title}" {STATUS_WORDS[status].format(service=service)}.',
                "timestamp": utcnow().isoformat(),
            },
        )


# --- reconcile -----------------------------------------------------------------------------
async def reconcile(ctx: AppContext) -> int:
    """Ask Overseerr about every open request and apply what changed; returns the count."""
    overseerr = await ctx.integrations.overseerr()
    if overseerr is None:
        return 0
    cursor = await ctx.cache.get(RECONCILE_CURSOR)
    after = cursor if isinstance(cursor, int) else 0
    async with session_scope(ctx.session_factory) as session:
        rows = await _open_rows(session, after=after, limit=RECONCILE_BATCH)
        if len(rows) < RECONCILE_BATCH and after:  # past the end: on from the start
            rows += await _open_rows(
                session, after=0, limit=RECONCILE_BATCH - len(rows), upto=after
            )
        changes = await _reconcile_rows(overseerr, rows)
        service = ctx.integrations.display_name("overseerr")
        await publish(session, RequestStatusesChanged(tuple(changes), service))
    last = rows[-1].overseerr_id if rows else None
    await ctx.cache.set(RECONCILE_CURSOR, last or 0, RECONCILE_CURSOR_TTL)
    await announce(ctx, changes)
    if changes:
        log.info("media_requests_reconciled", checked=len(rows), changed=len(changes))
    return len(changes)


async def _open_rows(
    session: AsyncSession, *, after: int, limit: int, upto: int = MAX_ID
) -> list[MediaRequest]:
    """Open requests by Overseerr id after `after`: each round goes on where the last
    stopped, so every open request is asked about in turn however many there are (by
    least recently changed, the unchanged oldest 200 took every round)."""
    return list(
        await session.scalars(
            select(MediaRequest)
            .where(
                MediaRequest.status.in_([s.value for s in OPEN_STATUSES]),
                MediaRequest.overseerr_id > after,
                MediaRequest.overseerr_id <= upto,
            )
            .order_by(MediaRequest.overseerr_id)
            .limit(limit)
        )
    )


async def _reconcile_rows(
    overseerr: OverseerrClient, rows: list[MediaRequest]
) -> list[StatusChange]:
    changes: list[StatusChange] = []
    for row in rows:
        assert row.overseerr_id is not None
        upstream = await overseerr.get_request(row.overseerr_id)
        if upstream is not None:
            known = request_local_status(upstream)
            if known is None:  # a newer server's status: the row stays as it is
                log.warning("overseerr_request_status_unknown", status=upstream.status)
                continue
            status: str = known
        elif await _confirmed_removed(overseerr, row):
            status = RequestStatus.REMOVED  # nothing will ever complete it
        else:
            continue
        if (change := _set_status(row, status)) is not None:
            changes.append(change)
    return changes


async def _confirmed_removed(overseerr: OverseerrClient, row: MediaRequest) -> bool:
    """Whether Overseerr confirms it no longer has the request its `GET /request/{id}`
    answered 404 for. That 404 is its answer to any failure of its own (a database
    error too), so only a second look that tells the two apart changes the row; an
    unconfirmed 404 leaves it for the next round."""
    assert row.overseerr_id is not None
    try:
        gone = await overseerr.request_gone(
            row.overseerr_id,
            media_type="movie" if row.media_type == "movie" else "tv",
            tmdb_id=row.tmdb_id,
        )
    except MediaNestError as exc:
        gone, reason = None, exc.code
    else:
        reason = "still listed" if gone is False else "not confirmed"
    if gone is not True:
        log.warning("media_request_404_unconfirmed", overseerr_id=row.overseerr_id, reason=reason)
    return gone is True


def reconciler_starter(
    interval_seconds: float,
) -> Callable[[AppContext], Awaitable[Callable[[], Awaitable[None]]]]:
    """A background part for `app.py`: reconcile at start, then every `interval_seconds`,
    on one app instance at a time (a leader lease)."""

    async def start(ctx: AppContext) -> Callable[[], Awaitable[None]]:
        lease = LeaderLease(ctx, RECONCILE_LEASE, ttl_seconds=max(interval_seconds * 2, 30.0))
        stopping = asyncio.Event()
        task = asyncio.create_task(_reconcile_forever(ctx, lease, interval_seconds, stopping))

        async def stop() -> None:
            stopping.set()
            # A pass in flight finishes first (cancelled mid-write, SQLite kept its write
            # lock until the connection was collected); a client library may also
            # swallow a cancel mid-call, and the event ends the loop anyway.
            await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)
            if not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("media_reconcile_stop_failed", error=repr(task.exception()))
            await lease.release()

        return stop

    return start


async def _reconcile_forever(
    ctx: AppContext, lease: LeaderLease, interval: float, stopping: asyncio.Event
) -> None:
    while not stopping.is_set():
        if await lease.try_acquire() and not stopping.is_set():
            try:
                await reconcile(ctx)
            except MediaNestError as exc:
                # Overseerr down or odd: the next round tries again; requests stay as they are.
                log.warning("media_reconcile_failed", code=exc.code, error=exc.message)
            except Exception:
                log.exception("media_reconcile_crashed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=interval)
