"""JSON API of the notification centre and channels (`/api/notifications`); the logic
is in `service` and `channels`."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import Query, Response, status

from medianest.auth.dependencies import CurrentUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import ERROR_RESPONSES, Envelope, envelope
from medianest.db.engine import after_commit
from medianest.notifications import channels, service
from medianest.notifications.dependencies import OwnedChannel, channel_rules, vapid_keys
from medianest.notifications.models import NotificationChannel
from medianest.notifications.realtime import announce_unread
from medianest.notifications.schemas import (
    ChannelIn,
    ChannelOut,
    ChannelTestOut,
    MarkReadIn,
    NotificationListOut,
    NotificationOut,
    PushKeyOut,
    UnreadOut,
)

router = api_router(prefix="/api/notifications", tags=["notifications"], responses=ERROR_RESPONSES)


def channel_out(row: NotificationChannel) -> ChannelOut:
    return ChannelOut(
        id=row.id,
        kind=row.kind,
        label=row.label,
        events=list(row.events or []),
        household=row.user_id is None,
        last_status=row.last_status,
        last_error=row.last_error,
        last_attempt_at=row.last_attempt_at,
        created_at=row.created_at,
    )


@router.get("", response_model=Envelope[NotificationListOut])
async def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=service.PAGE_LIMIT_MAX)] = 50,
    unread: bool = False,
) -> Envelope[NotificationListOut]:
    """The caller's notifications of the last 30 days, newest first, and the unread count."""
    page = await service.list_centre(session, user_id=user.id, limit=limit, unread_only=unread)
    return envelope(
        NotificationListOut(
            items=[NotificationOut.model_validate(row) for row in page.items], unread=page.unread
        )
    )


@router.post("/read", response_model=Envelope[UnreadOut])
async def mark_read(
    body: MarkReadIn, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Envelope[UnreadOut]:
    """Mark some (or all) of the caller's notifications read, on every device."""
    unread = await service.mark_read(session, user_id=user.id, ids=None if body.all else body.ids)
    # Committed before the other devices are told to re-count.
    after_commit(session, functools.partial(announce_unread, ctx, user.id, unread))
    return envelope(UnreadOut(unread=unread))


@router.get("/channels", response_model=Envelope[list[ChannelOut]])
async def list_channels(user: CurrentUser, session: SessionDep) -> Envelope[list[ChannelOut]]:
    """The caller's channels (admins: and the household's), without their secrets."""
    rows = await channels.list_channels(session, user=user)
    return envelope([channel_out(row) for row in rows])


@router.post("/channels", response_model=Envelope[ChannelOut], status_code=201)
async def add_channel(
    body: ChannelIn, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Envelope[ChannelOut]:
    """Save an Apprise URL or this browser's push subscription; the secret is stored
    encrypted and never shown again."""
    if body.subscription is not None:
        row = await channels.add_push_channel(
            session,
            box=ctx.secret_box,
            rules=channel_rules(ctx),
            user=user,
            subscription=body.subscription,
            events=body.events,
        )
    else:
        assert body.url is not None
        row = await channels.add_apprise_channel(
            session,
            box=ctx.secret_box,
            rules=channel_rules(ctx),
            user=user,
            url=body.url,
            events=body.events,
            household=body.household,
        )
    return envelope(channel_out(row))


@router.delete(
    "/channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def delete_channel(channel: OwnedChannel, session: SessionDep) -> Response:
    """Remove a channel; messages still queued for it are dropped."""
    await channels.delete_channel(session, channel=channel)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/channels/{channel_id}/test", response_model=Envelope[ChannelTestOut])
async def test_channel(
    channel: OwnedChannel, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Envelope[ChannelTestOut]:
    """Send a test message through the channel now and say how it went. At most 5 tests
    a minute per user (API and page together): beyond, 429 and nothing is sent."""
    outcome = await channels.test_channel(
        session,
        user=user,
        channel=channel,
        box=ctx.secret_box,
        vapid=vapid_keys(ctx),
        limiter=ctx.rate_limiter,
    )
    return envelope(ChannelTestOut(ok=outcome.ok, reason=outcome.reason))


@router.get("/push-key", response_model=Envelope[PushKeyOut])
async def push_key(user: CurrentUser, ctx: ContextDep) -> Envelope[PushKeyOut]:
    """The VAPID public key a browser subscribes with (null: web push is not configured)."""
    keys = vapid_keys(ctx)
    return envelope(PushKeyOut(public_key=keys.public_key if keys else None))
