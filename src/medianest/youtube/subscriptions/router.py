"""JSON API of YouTube subscriptions (own only; another user's → 404) and of the caller's
quotas (`GET /api/youtube/quota`, what is left, for the dashboard)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import Response, status
from pydantic import Field

from medianest.auth.dependencies import CurrentUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import ERROR_RESPONSES, ApiModel, Envelope, envelope
from medianest.db.base import utcnow
from medianest.youtube.dependencies import OwnedSubscription, UnsubscriptionDep
from medianest.youtube.downloads import quotas
from medianest.youtube.models import YoutubeSubscription
from medianest.youtube.schemas import SubscriptionIn, SubscriptionPatch
from medianest.youtube.subscriptions import service as subscriptions

router = api_router(prefix="/api/youtube", tags=["youtube"], responses=ERROR_RESPONSES)


class Subscription(ApiModel):
    id: uuid.UUID
    url: str
    title: str | None
    quality: str
    interval_hours: float
    paused: bool
    delivery: str | None
    last_check_at: datetime | None
    next_check_at: datetime | None
    items_found: int = Field(description="New items queued by this subscription so far")
    last_error: str | None
    checking: bool = False
    created_at: datetime


class QuotaUsage(ApiModel):
    name: str
    unit: Literal["items", "bytes", "requests"]
    limit: float | None = Field(description="null = unlimited")
    used: float
    remaining: float | None
    window_seconds: int
    resets_at: datetime | None


def _out(row: YoutubeSubscription) -> Subscription:
    checking = row.claimed_until is not None and row.claimed_until > utcnow()
    return Subscription.model_validate(row).model_copy(update={"checking": checking})


@router.post(
    "/subscriptions", response_model=Envelope[Subscription], status_code=status.HTTP_201_CREATED
)
async def create_subscription(
    body: SubscriptionIn, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Envelope[Subscription]:
    """Subscribe to a playlist or channel; the first check runs at once."""
    row = await subscriptions.create(session, ctx=ctx, user=user, wanted=body)
    return envelope(_out(row))


@router.get("/subscriptions", response_model=Envelope[list[Subscription]])
async def list_subscriptions(
    user: CurrentUser, session: SessionDep
) -> Envelope[list[Subscription]]:
    """The caller's subscriptions, oldest first."""
    return envelope([_out(r) for r in await subscriptions.list_for(session, user.id)])


@router.get("/subscriptions/{subscription_id}", response_model=Envelope[Subscription])
async def get_subscription(row: OwnedSubscription) -> Envelope[Subscription]:
    """One subscription: last check, next check, items found, last error."""
    return envelope(_out(row))


@router.patch("/subscriptions/{subscription_id}", response_model=Envelope[Subscription])
async def update_subscription(
    body: SubscriptionPatch, row: OwnedSubscription, session: SessionDep
) -> Envelope[Subscription]:
    """Pause, resume, or change the interval, quality or delivery."""
    return envelope(_out(await subscriptions.update(session, row, change=body)))


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def delete_subscription(
    wanted: UnsubscriptionDep, session: SessionDep, ctx: ContextDep
) -> Response:
    """Unsubscribe; downloaded files stay unless `deleteFiles=true`."""
    await subscriptions.unsubscribe(session, ctx=ctx, wanted=wanted)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/subscriptions/{subscription_id}/check",
    response_model=Envelope[Subscription],
    status_code=status.HTTP_202_ACCEPTED,
)
async def check_subscription(
    row: OwnedSubscription, session: SessionDep, ctx: ContextDep
) -> Envelope[Subscription]:
    """Check now: the scheduler picks it up at once (409 while paused)."""
    subscriptions.request_check(session, ctx, row)
    await session.flush()
    return envelope(_out(row))


@router.get("/quota", response_model=Envelope[list[QuotaUsage]])
async def my_quota(user: CurrentUser, session: SessionDep) -> Envelope[list[QuotaUsage]]:
    """What is left of the caller's quotas (YouTube items/day, GB/week, requests/week)."""
    usages = await quotas.user_usage(session, user)
    return envelope(
        [
            QuotaUsage(
                name=u.name,
                unit=u.unit,
                limit=u.limit,
                used=u.used,
                remaining=u.remaining,
                window_seconds=u.window_seconds,
                resets_at=u.resets_at,
            )
            for u in usages
        ]
    )
