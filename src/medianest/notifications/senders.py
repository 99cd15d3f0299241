"""Sending one message through one outside channel: an Apprise URL or a web-push
subscription (RFC 8291 aes128gcm payload, RFC 8292 VAPID signature).

A sender returns a `SendOutcome`; it never raises for a channel's failure, and the
reason it reports never carries the channel's secret.

Apprise, pywebpush and py_vapid are imported where a channel is checked or sent to, or
a VAPID key is read, not with this module: with what they pull in (requests, aiohttp,
cryptography) they cost a server that never notifies anyone ~20 MB of resident memory
(docs/performance.md, "Memory and start").
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from medianest.core.logging import get_logger
from medianest.integrations.http import tls_context
from medianest.notifications import send_threads

log = get_logger(__name__)

# Apprise's own log lines can carry a channel's URL or token, so they stay out of our
# logs; a failure's reason is taken from the call's result (scrubbed) instead.
_apprise_log = logging.getLogger("apprise")
_apprise_log.propagate = False
_apprise_log.addHandler(logging.NullHandler())
# urllib3 (Apprise's HTTP underneath) logs each request's path at DEBUG: webhook tokens.
logging.getLogger("urllib3").setLevel(logging.WARNING)

# A whole send to one channel (web push or Apprise): the worker sends one message at a
# time for every user, so one slow host may hold the others this long and no longer.
SEND_TIMEOUT_SECONDS = 10.0
PUSH_TTL_SECONDS = 24 * 3600
REASON_MAX = 300


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    link: str | None
    event: str
    tag: str  # the notification id: a browser replaces, not stacks, a resent message


@dataclass(frozen=True)
class SendOutcome:
    ok: bool
    reason: str = ""
    # The channel will never accept this again (a push subscription that is gone).
    permanent: bool = False


def scrub(reason: str, secret: str) -> str:
    """The reason without the secret URL or any of its longer parts."""
    cleaned = reason.replace(secret, "<channel>")
    for part in re.split(r"[/:@?&=#,]+", secret):
        if len(part) >= 6:
            cleaned = cleaned.replace(part, "***")
    return cleaned.strip()[:REASON_MAX]


# --- Apprise --------------------------------------------------------------------------
def apprise_label(url: str) -> str | None:
    """What may be shown of an Apprise URL (its service and host, secrets masked), or
    None when Apprise does not understand it."""
    import apprise  # on first use: see the module docstring

    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return None
    shown = str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]
    # Apprise's privacy form still shows paths (webhook tokens live there): keep
    # scheme and host only.
    parts = urlsplit(shown)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" if host else f"{parts.scheme}://"


def apprise_host(url: str) -> str | None:
    import apprise  # on first use: see the module docstring

    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    host = getattr(plugin, "host", None)
    return host if isinstance(host, str) and host else None


# "@" before a word that notifies a whole room — Discord's @everyone/@here (parsed from a
# webhook's content by default; Apprise sends no `allowed_mentions` in plain mode),
# Mattermost's and Rocket.Chat's @channel/@all/@here, Matrix's @room — or a Discord
# user or role id (<@123>, <@!123>, <@&123>), as discord.py's `utils.escape_mentions`.
_MASS_MENTION = re.compile(
    r"@(?=(?:everyone|here|channel|all|room)\b|[!&]?[0-9]{17,20}\b)", re.IGNORECASE
)


def without_mass_mentions(text: str) -> str:
    """The text with a zero-width space after each such "@": it reads the same and pings
    nobody. Titles are strangers' (an uploader's, TMDB's); ours never mention anyone."""
    return _MASS_MENTION.sub("@\u200b", text)


def _notify(url: str, title: str, body: str) -> Any:
    """One blocking Apprise send, run on this (send) thread from start to end."""
    import apprise  # on first use: see the module docstring

    # No service timeout: Apprise would then hand the send to its own shared pool and
    # only stop waiting for it; `send_threads` bounds it and frees the thread instead.
    notifier = apprise.Apprise(asset=apprise.AppriseAsset(service_timeout=0))
    if not notifier.add(url):
        return None
    # Titles are strangers' (TMDB's, an uploader's): declared as text, Apprise escapes
    # them for an HTML service (mail, Telegram) and a Markdown one. Undeclared, it hands
    # them on as they are (apprise.py `_create_notify_gen`, `body_passthrough`): an HTML
    # mail carried a title's <a href> and <img> as a link and a tracking pixel.
    return notifier.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)


async def send_apprise(url: str, message: Message) -> SendOutcome:
    body = message.body or message.title
    if message.link:
        body = f"{body}\n{message.link}"
    try:
        # The channel's host is whatever a user gave: the whole send is bounded, not
        # each read, and it runs on the few send threads, never the default executor.
        result = await send_threads.run_bounded(
            functools.partial(
                _notify, url, without_mass_mentions(message.title), without_mass_mentions(body)
            ),
            seconds=SEND_TIMEOUT_SECONDS,
        )
    except TimeoutError:
        return SendOutcome(False, f"The service did not answer within {SEND_TIMEOUT_SECONDS:g} s.")
    except Exception as exc:  # a plugin's own bug must not stop the worker
        return SendOutcome(False, scrub(f"{type(exc).__name__}: {exc}", url))
    if result is None:
        return SendOutcome(False, "Apprise does not understand this URL.", permanent=True)
    if result:
        return SendOutcome(True)
    problems = [
        entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR", "CRITICAL")
    ]
    return SendOutcome(False, scrub(problems[-1] if problems else "The service refused it.", url))


# --- web push -------------------------------------------------------------------------
@dataclass(frozen=True)
class VapidKeys:
    private_key: str  # raw 32-byte scalar, base64url (what secrets.json holds)
    public_key: str  # uncompressed P-256 point, base64url (the browser's applicationServerKey)
    subject: str  # "mailto:" or an https URL, for the push service's operator

    @classmethod
    def from_private(cls, private_key: str, *, subject: str) -> VapidKeys:
        # On first use: see the module docstring.
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        from py_vapid import Vapid02
        from py_vapid.utils import b64urlencode

        vapid = Vapid02.from_raw(private_key.encode())
        public = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return cls(private_key, b64urlencode(public), subject)


@functools.lru_cache(maxsize=4)
def vapid_keys(private_key: str, *, subject: str) -> VapidKeys:
    """The key pair of a private key (derived once: a process has one)."""
    return VapidKeys.from_private(private_key, subject=subject)


def push_subscription_label(subscription: dict[str, Any]) -> str:
    return f"web push via {urlsplit(str(subscription.get('endpoint', ''))).hostname or '?'}"


def _encrypt(subscription: dict[str, Any], payload: bytes) -> bytes:
    from pywebpush import WebPusher  # on first use: see the module docstring

    encoded = WebPusher(subscription).encode(payload, content_encoding="aes128gcm")
    body: bytes = encoded["body"]
    return body


def _vapid_headers(keys: VapidKeys, endpoint: str) -> dict[str, str]:
    from py_vapid import Vapid02  # on first use: see the module docstring

    parts = urlsplit(endpoint)
    claims = {
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(time.time()) + 12 * 3600,
        "sub": keys.subject,
    }
    headers: dict[str, str] = Vapid02.from_raw(keys.private_key.encode()).sign(claims)
    return headers


async def send_web_push(
    subscription: dict[str, Any], message: Message, *, keys: VapidKeys
) -> SendOutcome:
    from pywebpush import WebPushException  # on first use: see the module docstring

    endpoint = str(subscription.get("endpoint", ""))
    payload = json.dumps(
        {
            "title": message.title,
            "body": message.body,
            "url": message.link or "/notifications",
            "tag": message.tag,
            "event": message.event,
        }
    ).encode()
    try:
        # ECDH, HKDF and ECDSA: short, but CPU work all the same, so off the event loop.
        body = await asyncio.to_thread(_encrypt, subscription, payload)
        headers = await asyncio.to_thread(_vapid_headers, keys, endpoint)
    except (WebPushException, ValueError, TypeError) as exc:
        return SendOutcome(False, f"The subscription is invalid: {type(exc).__name__}.", True)
    headers |= {
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(PUSH_TTL_SECONDS),
        "Urgency": "normal",
    }
    try:
        # The endpoint is whatever host a user's browser (or a user) gave: the whole send is
        # bounded, not each read, and its status is all we read, never its body.
        async with (
            asyncio.timeout(SEND_TIMEOUT_SECONDS),
            httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS, verify=tls_context()) as client,
            client.stream("POST", endpoint, content=body, headers=headers) as response,
        ):
            status = response.status_code
    except (httpx.HTTPError, TimeoutError) as exc:
        return SendOutcome(False, f"The push service is unreachable ({type(exc).__name__}).")
    if status in (200, 201, 202, 204):
        return SendOutcome(True)
    reason = f"The push service answered {status}."
    # 404/410: the browser unsubscribed or the subscription expired; never retry it.
    return SendOutcome(False, reason, permanent=status in (404, 410))
