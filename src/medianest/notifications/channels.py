"""A user's (and the household's) outside channels: saving an Apprise URL or a web-push
subscription encrypted, listing them without their secrets, removing and testing them."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import User
from medianest.core.crypto import DecryptionError, SecretBox
from medianest.core.errors import NotFound, PermissionDenied, ValidationFailed
from medianest.core.ratelimit import RateLimiter
from medianest.db.base import utcnow
from medianest.notifications import senders
from medianest.notifications.events import USER_EVENTS, choosable_for
from medianest.notifications.models import ChannelKind, NotificationChannel

SECRET_CONTEXT = "notification_channel"  # noqa: S105  (an AEAD context label, not a secret)
MAX_URL_LENGTH = 2048
MAX_CHANNELS_PER_OWNER = 20
# "Send test" sends at once, on one of the few Apprise send threads (each held up to the
# send's bound): pressed again and again on hosts that trickle their answer, it would keep
# them all busy. Counted per user, before the send; the API and the page share the count.
TESTS_PER_MINUTE = 5
TESTS_WINDOW_SECONDS = 60
TESTS_LIMITED_MESSAGE = f"You can send {TESTS_PER_MINUTE} tests a minute. Try again shortly."


@dataclass(frozen=True)
class ChannelRules:
    """What the deployment allows: plain users sending to private addresses (LAN ntfy)."""

    allow_private_hosts_for_users: bool


def _fingerprint(kind: str, identity: str) -> str:
    return hashlib.sha256(f"{kind}\n{identity}".encode()).hexdigest()


def _check_events(events: Sequence[str] | None, *, user: User, household: bool) -> list[str]:
    if household and not user.is_admin:
        raise PermissionDenied("Only admins set household channels.")
    allowed = choosable_for(is_admin=user.is_admin)
    if events is None:
        return list(USER_EVENTS)
    chosen = list(dict.fromkeys(events))
    unknown = [e for e in chosen if e not in allowed]
    if unknown or not chosen:
        raise ValidationFailed(
            "Choose at least one event from the list."
            if not chosen
            else "Some events are unknown or not yours to choose.",
            details={"field": "events", "unknown": unknown[:20], "allowed": list(allowed)},
        )
    return chosen


def _is_private(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return not address.is_global


def _check_host(host: str | None, *, user: User, rules: ChannelRules) -> None:
    # A plain user must not make the server call into the household's own network.
    if host and _is_private(host) and not (user.is_admin or rules.allow_private_hosts_for_users):
        raise ValidationFailed(
            "This address is on a private network; ask an admin to add it as a household channel.",
            details={"field": "url"},
        )


async def _owned_count(session: AsyncSession, owner_id: uuid.UUID | None) -> int:
    rows = await session.scalars(
        select(NotificationChannel.id).where(
            NotificationChannel.user_id.is_(None)
            if owner_id is None
            else NotificationChannel.user_id == owner_id
        )
    )
    return len(list(rows))


async def _save(
    session: AsyncSession,
    *,
    box: SecretBox,
    owner_id: uuid.UUID | None,
    kind: ChannelKind,
    identity: str,
    secret: str,
    label: str,
    events: list[str],
) -> NotificationChannel:
    fingerprint = _fingerprint(kind, identity)
    owner = (
        NotificationChannel.user_id.is_(None)
        if owner_id is None
        else NotificationChannel.user_id == owner_id
    )
    existing = await session.scalar(
        select(NotificationChannel).where(owner, NotificationChannel.fingerprint == fingerprint)
    )
    if existing is not None:
        # The same URL or browser again: one channel, with the latest choice of events.
        existing.events = events
        existing.secret = box.encrypt(secret, context=SECRET_CONTEXT)
        return existing
    if await _owned_count(session, owner_id) >= MAX_CHANNELS_PER_OWNER:
        raise ValidationFailed(f"At most {MAX_CHANNELS_PER_OWNER} channels each.")
    row = NotificationChannel(
        id=uuid.uuid4(),
        user_id=owner_id,
        kind=kind,
        label=label[:300],
        secret=box.encrypt(secret, context=SECRET_CONTEXT),
        fingerprint=fingerprint,
        events=events,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def add_apprise_channel(
    session: AsyncSession,
    *,
    box: SecretBox,
    rules: ChannelRules,
    user: User,
    url: str,
    events: Sequence[str] | None,
    household: bool = False,
) -> NotificationChannel:
    """Save an Apprise URL (ntfy, Discord, email, JSON webhook, ...) for the user or,
    for an admin with `household`, for everyone."""
    chosen = _check_events(events, user=user, household=household)
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise ValidationFailed("Give an Apprise URL.", details={"field": "url"})
    label = senders.apprise_label(url)
    if label is None:
        raise ValidationFailed(
            "Apprise does not understand this URL (see its list of services).",
            details={"field": "url"},
        )
    _check_host(senders.apprise_host(url), user=user, rules=rules)
    return await _save(
        session,
        box=box,
        owner_id=None if household else user.id,
        kind=ChannelKind.APPRISE,
        identity=url,
        secret=url,
        label=label,
        events=chosen,
    )


def parse_push_subscription(raw: Any) -> dict[str, Any]:
    """A browser's PushSubscription JSON: an https endpoint and its p256dh and auth keys."""
    if not isinstance(raw, dict):
        raise ValidationFailed("The push subscription is not an object.")
    endpoint = raw.get("endpoint")
    keys = raw.get("keys")
    if (
        not isinstance(endpoint, str)
        or len(endpoint) > MAX_URL_LENGTH
        or urlsplit(endpoint).scheme not in ("https", "http")
        or not urlsplit(endpoint).hostname
        or not isinstance(keys, dict)
        or not isinstance(keys.get("p256dh"), str)
        or not isinstance(keys.get("auth"), str)
        or len(keys["p256dh"]) > 200
        or len(keys["auth"]) > 100
    ):
        raise ValidationFailed(
            "The push subscription needs an endpoint URL and its p256dh and auth keys.",
            details={"field": "subscription"},
        )
    return {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}


async def add_push_channel(
    session: AsyncSession,
    *,
    box: SecretBox,
    rules: ChannelRules,
    user: User,
    subscription: Any,
    events: Sequence[str] | None,
) -> NotificationChannel:
    """Save this browser's push subscription (the same endpoint again updates it)."""
    chosen = _check_events(events, user=user, household=False)
    parsed = parse_push_subscription(subscription)
    endpoint = urlsplit(parsed["endpoint"])
    if endpoint.scheme != "https":
        _check_host("localhost", user=user, rules=rules)  # plain http only where allowed
    _check_host(endpoint.hostname, user=user, rules=rules)
    return await _save(
        session,
        box=box,
        owner_id=user.id,
        kind=ChannelKind.WEBPUSH,
        identity=parsed["endpoint"],
        secret=json.dumps(parsed),
        label=senders.push_subscription_label(parsed),
        events=chosen,
    )


async def list_channels(session: AsyncSession, *, user: User) -> list[NotificationChannel]:
    """The user's channels, and for admins the household's too."""
    owner = NotificationChannel.user_id == user.id
    if user.is_admin:
        owner = owner | NotificationChannel.user_id.is_(None)
    rows = await session.scalars(
        select(NotificationChannel).where(owner).order_by(NotificationChannel.created_at)
    )
    return list(rows)


async def owned_channel(
    session: AsyncSession, *, user: User, channel_id: uuid.UUID
) -> NotificationChannel:
    """The channel if it is the user's (or a household one and the user an admin)."""
    row = await session.get(NotificationChannel, channel_id)
    if row is None or not (row.user_id == user.id or (row.user_id is None and user.is_admin)):
        raise NotFound("No such channel.")
    return row


async def delete_channel(session: AsyncSession, *, channel: NotificationChannel) -> None:
    await session.delete(channel)
    await session.flush()


def open_secret(box: SecretBox, channel: NotificationChannel) -> str | None:
    try:
        return box.decrypt(channel.secret, context=SECRET_CONTEXT)
    except DecryptionError:
        return None


async def send_to_channel(
    channel: NotificationChannel,
    message: senders.Message,
    *,
    box: SecretBox,
    vapid: senders.VapidKeys | None,
) -> senders.SendOutcome:
    """Send one message through one channel (the secret is opened only here)."""
    secret = open_secret(box, channel)
    if secret is None:
        return senders.SendOutcome(False, "The channel cannot be decrypted; add it again.", True)
    if channel.kind == ChannelKind.APPRISE:
        return await senders.send_apprise(secret, message)
    if vapid is None:
        return senders.SendOutcome(False, "Web push has no VAPID key configured.")
    return await senders.send_web_push(json.loads(secret), message, keys=vapid)


def record_outcome(channel: NotificationChannel, outcome: senders.SendOutcome) -> None:
    # A push subscription the browser dropped is "gone": nothing is queued for it again.
    gone = outcome.permanent and channel.kind == ChannelKind.WEBPUSH
    channel.last_status = "ok" if outcome.ok else ("gone" if gone else "failed")
    channel.last_error = None if outcome.ok else outcome.reason[:500]
    channel.last_attempt_at = utcnow()


async def count_channel_test(limiter: RateLimiter, *, user: User) -> None:
    """One "send test" against `user`'s limit (429 past it, nothing sent)."""
    result = await limiter.hit(
        f"channel-tests:{user.id}", limit=TESTS_PER_MINUTE, window_seconds=TESTS_WINDOW_SECONDS
    )
    result.raise_if_exceeded(TESTS_LIMITED_MESSAGE)


async def test_channel(
    session: AsyncSession,
    *,
    user: User,
    channel: NotificationChannel,
    box: SecretBox,
    vapid: senders.VapidKeys | None,
    limiter: RateLimiter,
) -> senders.SendOutcome:
    """Send a test message now, within `user`'s test limit, and remember how it went."""
    await count_channel_test(limiter, user=user)
    outcome = await send_to_channel(
        channel,
        senders.Message(
            title="MediaNest test",
            body="If you can read this, MediaNest can reach you here.",
            link=None,
            event="test",
            tag=f"test-{channel.id}",
        ),
        box=box,
        vapid=vapid,
    )
    record_outcome(channel, outcome)
    return outcome
