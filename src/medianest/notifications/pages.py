"""The notifications page (the centre, the user's channels with "send test", quiet hours
and the digest), and the PWA pieces: the web app manifest and the service worker, served
from the site root so the worker's scope is the whole app. Same services as the API."""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import Response

from medianest.auth.dependencies import CurrentUser
from medianest.auth.page_user import page_router
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import MediaNestError
from medianest.db.engine import after_commit
from medianest.notifications import channels, digest, preferences, service
from medianest.notifications.dependencies import OwnedChannel, channel_rules, vapid_keys
from medianest.notifications.events import EVENTS, choosable_for
from medianest.notifications.realtime import announce_unread
from medianest.web.fragments import trigger
from medianest.web.templating import STATIC_DIR, render

router = page_router()

SERVICE_WORKER = STATIC_DIR / "sw.js"
MANIFEST = {
    "name": "MediaNest",
    "short_name": "MediaNest",
    "start_url": "/dashboard",
    "scope": "/",
    "display": "standalone",
    "background_color": "#111418",
    "theme_color": "#e5a00d",
    "icons": [{"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml"}],
}


def _event_choices(is_admin: bool) -> list[tuple[str, str]]:
    return [(name, EVENTS[name].label) for name in choosable_for(is_admin=is_admin)]


async def _channels_context(session: SessionDep, user: CurrentUser, **more: Any) -> dict[str, Any]:
    rows = await channels.list_channels(session, user=user)
    return {
        "channels": rows,
        "event_choices": _event_choices(user.is_admin),
        "event_labels": {name: kind.label for name, kind in EVENTS.items()},
        "error": None,
        "url": "",
        **more,
    }


async def _settings_context(session: SessionDep, user: CurrentUser, **more: Any) -> dict[str, Any]:
    row = await preferences.load(session, user_id=user.id)
    return {
        "centre_choices": _event_choices(user.is_admin),
        "centre_events": row.centre_events,
        "quiet_start": preferences.clock(row.quiet_start_minute),
        "quiet_end": preferences.clock(row.quiet_end_minute),
        "timezone": row.timezone,
        "digest": row.digest,
        "digest_everything": row.digest_everything,
        "settings_error": None,
        **more,
    }


def _as_sent(change: preferences.PreferencesChange) -> dict[str, Any]:
    """The settings form's values as sent: a refused form shows them again to correct."""
    return {
        "quiet_start": change.quiet_start or "",
        "quiet_end": change.quiet_end or "",
        "timezone": change.timezone,
        "digest": change.digest,
        "digest_everything": change.digest_everything,
        "centre_events": change.centre_events,
    }


@router.get("/notifications")
async def notifications_page(
    request: Request, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Response:
    page = await service.list_centre(session, user_id=user.id, limit=100)
    context: dict[str, Any] = {
        "nav": "notifications",
        "items": page.items,
        "unread": page.unread,
        "push_key": (keys.public_key if (keys := vapid_keys(ctx)) else ""),
    }
    context |= await _channels_context(session, user)
    context |= await _settings_context(session, user)
    return render(request, "notifications/index.html", context)


@router.get("/notifications/digest")
async def digest_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    period: Annotated[str | None, Query(pattern="^(daily|weekly)$")] = None,
) -> Response:
    """What the next digest would list (the user's period, or the one asked for)."""
    prefs = await preferences.load(session, user_id=user.id)
    chosen = period or (prefs.digest if prefs.digest in digest.PERIODS else "weekly")
    built = await digest.build(
        session, ctx, user=user, period=chosen, everything=prefs.digest_everything
    )
    return render(
        request,
        "notifications/digest.html",
        {"nav": "notifications", "digest": built, "prefs": prefs},
    )


@router.get("/notifications/list")
async def centre_fragment(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    page = await service.list_centre(session, user_id=user.id, limit=100)
    return render(
        request, "notifications/_items.html", {"items": page.items, "unread": page.unread}
    )


@router.get("/notifications/channels")
async def channels_fragment(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    return render(request, "notifications/_channels.html", await _channels_context(session, user))


@router.post("/notifications/read-all")
async def read_all(
    request: Request, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Response:
    unread = await service.mark_read(session, user_id=user.id, ids=None)
    after_commit(session, functools.partial(announce_unread, ctx, user.id, unread))
    page = await service.list_centre(session, user_id=user.id, limit=100)
    return render(
        request,
        "notifications/_items.html",
        {"items": page.items, "unread": page.unread},
        headers=trigger("Everything is marked read.", "info"),
    )


@router.post("/notifications/channels")
async def add_channel(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    url: Annotated[str, Form(max_length=4096)] = "",
    events: Annotated[list[str] | None, Form(max_length=50)] = None,
    household: Annotated[bool, Form()] = False,
) -> Response:
    try:
        await channels.add_apprise_channel(
            session,
            box=ctx.secret_box,
            rules=channel_rules(ctx),
            user=user,
            url=url,
            events=events or [],
            household=household,
        )
    except MediaNestError as error:
        context = await _channels_context(session, user, error=error, url=url)
        return render(
            request, "notifications/_channels.html", context, status_code=error.status_code
        )
    return render(
        request,
        "notifications/_channels.html",
        await _channels_context(session, user),
        headers=trigger("Channel saved. Use “Send test” to try it."),
    )


@router.post("/notifications/channels/{channel_id}/test")
async def test_channel(
    request: Request, channel: OwnedChannel, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Response:
    # Past the limit the 429 fragment carries the message; app.js toasts it.
    outcome = await channels.test_channel(
        session,
        user=user,
        channel=channel,
        box=ctx.secret_box,
        vapid=vapid_keys(ctx),
        limiter=ctx.rate_limiter,
    )
    await session.flush()
    message = "Test sent." if outcome.ok else f"The test failed: {outcome.reason}"
    return render(
        request,
        "notifications/_channel_row.html",
        {"c": channel, "event_labels": {n: k.label for n, k in EVENTS.items()}},
        headers=trigger(message, "success" if outcome.ok else "error"),
    )


@router.delete("/notifications/channels/{channel_id}")
async def delete_channel(channel: OwnedChannel, session: SessionDep) -> Response:
    await channels.delete_channel(session, channel=channel)
    return Response(content="", media_type="text/html", headers=trigger("Channel removed.", "info"))


@router.post("/notifications/settings")
async def save_settings(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    quiet_start: Annotated[str, Form(alias="quietStart", max_length=5)] = "",
    quiet_end: Annotated[str, Form(alias="quietEnd", max_length=5)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    digest: Annotated[str, Form(max_length=8)] = "off",
    digest_everything: Annotated[bool, Form(alias="digestEverything")] = False,
    centre_events: Annotated[list[str] | None, Form(alias="centreEvents", max_length=50)] = None,
) -> Response:
    change = preferences.PreferencesChange(
        quiet_start=quiet_start or None,
        quiet_end=quiet_end or None,
        timezone=timezone.strip() or "UTC",
        digest=digest,
        digest_everything=digest_everything,
        centre_events=centre_events,
    )
    try:
        await preferences.update(session, user_id=user.id, is_admin=user.is_admin, change=change)
    except MediaNestError as error:
        context = await _settings_context(session, user, settings_error=error, **_as_sent(change))
        return render(
            request, "notifications/_settings.html", context, status_code=error.status_code
        )
    return render(
        request,
        "notifications/_settings.html",
        await _settings_context(session, user),
        headers=trigger("Settings saved."),
    )


@router.get("/sw.js")
async def service_worker() -> Response:
    # From the root, so the worker controls every page (a /static/ worker could not).
    return Response(
        SERVICE_WORKER.read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/manifest.webmanifest")
async def manifest() -> Response:
    return Response(json.dumps(MANIFEST), media_type="application/manifest+json")
