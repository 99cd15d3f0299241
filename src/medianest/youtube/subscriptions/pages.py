"""The subscriptions page: what is left of the user's quotas, the subscribe form, and each
subscription with its last and next check, items found, last error and its actions
(check now, pause/resume, interval, delete). Same services and ownership dependency as
`/api/youtube/subscriptions`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response

from medianest.auth.dependencies import CurrentUser
from medianest.auth.page_user import page_router
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import InvalidInput, MediaNestError, ValidationFailed
from medianest.db.base import utcnow
from medianest.web.forms import form_input
from medianest.web.fragments import inline_error, trigger
from medianest.web.templating import render
from medianest.youtube.delivery import visibility
from medianest.youtube.dependencies import OwnedSubscription, UnsubscriptionDep
from medianest.youtube.downloads import quotas
from medianest.youtube.downloads import service as downloads_service
from medianest.youtube.models import YoutubeSubscription
from medianest.youtube.schemas import SubscriptionIn, SubscriptionPatch
from medianest.youtube.subscriptions import service as subscriptions

router = page_router()
QUALITIES = {"best": "Best available", "1080p": "1080p", "720p": "720p", "audio": "Audio only"}
DELIVERIES = {
    "": "Server default",
    "playlist": "My private playlist",
    "collection": "Shared collection",
}
INTERVALS = (1, 3, 6, 12, 24, 72, 168)


def _row(row: YoutubeSubscription) -> dict[str, Any]:
    # Only whether the check is due: how long until it is, app.js counts down from the
    # time, so the polled list stays the same bytes while nothing changes (ETag, 304).
    due = row.next_check_at is None or row.next_check_at <= utcnow()
    return {"s": row, "due": due, "intervals": INTERVALS}


async def _list(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    rows = await subscriptions.list_for(session, user.id)
    return {"rows": [_row(r) for r in rows]}


def _form(ctx: ContextDep, **values: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "qualities": QUALITIES,
        "deliveries": DELIVERIES,
        "intervals": INTERVALS,
        "quality": ctx.settings.default_download_quality,
        "interval": 6,
        "delivery": "",
        "url": "",
        "error": None,
    }
    context.update(values)
    return context


@router.get("/youtube/subscriptions")
async def subscriptions_page(
    request: Request, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Response:
    context = _form(ctx, nav="youtube", limit=ctx.settings.youtube_max_subscriptions_per_user)
    context.update(await _list(session, user))
    context["quotas"] = await quotas.user_usage(session, user)
    context["hourly"] = await downloads_service.hourly_left(ctx, user)
    context["library_problem"] = await visibility.notice(ctx, user)
    return render(request, "youtube/subscriptions.html", context)


@router.post("/youtube/subscriptions")
async def subscribe(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    url: Annotated[str, Form(max_length=4096)] = "",
    quality: Annotated[str, Form(max_length=16)] = "best",
    interval_hours: Annotated[str, Form(alias="intervalHours", max_length=8)] = "6",
    delivery: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    values = {"url": url, "quality": quality, "interval": interval_hours, "delivery": delivery}
    try:
        body = form_input(
            SubscriptionIn,
            {
                "url": url,
                "quality": quality,
                "intervalHours": interval_hours,
                "delivery": delivery or None,
            },
            messages={"url": "Paste a playlist or channel link."},
        )
        await subscriptions.create(session, ctx=ctx, user=user, wanted=body)
    except MediaNestError as error:
        return render(
            request,
            "youtube/_subscription_form.html",
            _form(ctx, error=error, **values),
            status_code=error.status_code,
        )
    return render(
        request,
        "youtube/_subscription_form.html",
        _form(ctx),
        headers=trigger(
            "Subscribed; the first check runs now.", "success", **{"subscriptions-changed": True}
        ),
    )


@router.get("/youtube/subscriptions/list")
async def subscriptions_fragment(
    request: Request, user: CurrentUser, session: SessionDep
) -> Response:
    return render(request, "youtube/_subscriptions.html", await _list(session, user))


@router.post("/youtube/subscriptions/{subscription_id}/check")
async def check_now(
    request: Request, row: OwnedSubscription, session: SessionDep, ctx: ContextDep
) -> Response:
    try:
        subscriptions.request_check(session, ctx, row)
    except MediaNestError as error:
        return inline_error(request, error)
    await session.flush()
    return render(
        request, "youtube/_subscription_row.html", _row(row), headers=trigger("Checking now.")
    )


@router.post("/youtube/subscriptions/{subscription_id}/interval")
async def change_interval(
    request: Request,
    row: OwnedSubscription,
    session: SessionDep,
    interval_hours: Annotated[str, Form(alias="intervalHours", max_length=8)] = "",
) -> Response:
    try:
        change = form_input(
            SubscriptionPatch,
            {"intervalHours": interval_hours},
            messages={"intervalHours": "Choose a listed interval."},
        )
    except InvalidInput as error:
        return inline_error(request, error)
    await subscriptions.update(session, row, change=change)
    return render(
        request,
        "youtube/_subscription_row.html",
        _row(row),
        headers=trigger(f"Checked every {row.interval_hours:g} h from now on.", "info"),
    )


@router.post("/youtube/subscriptions/{subscription_id}/{action}")
async def pause_or_resume(
    request: Request, row: OwnedSubscription, session: SessionDep, action: str
) -> Response:
    if action not in ("pause", "resume"):
        return inline_error(request, ValidationFailed("Unknown action."))
    await subscriptions.update(session, row, change=SubscriptionPatch(paused=action == "pause"))
    message = "Subscription paused." if row.paused else "Subscription resumed."
    return render(
        request, "youtube/_subscription_row.html", _row(row), headers=trigger(message, "info")
    )


@router.delete("/youtube/subscriptions/{subscription_id}")
async def unsubscribe(wanted: UnsubscriptionDep, session: SessionDep, ctx: ContextDep) -> Response:
    await subscriptions.unsubscribe(session, ctx=ctx, wanted=wanted)
    return Response(content="", media_type="text/html", headers=trigger("Unsubscribed.", "info"))
