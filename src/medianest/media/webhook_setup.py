"""Setting up Overseerr's webhook to MediaNest: the shared secret (set or rotated by an
admin, stored encrypted, never shown again after it is set), the exact settings to paste
into Overseerr (URL, Authorization header, JSON payload), and a test that asks Overseerr
to send its test notification and waits to see it arrive."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.context import AppContext
from medianest.core.crypto import DecryptionError, SecretBox
from medianest.core.errors import MediaNestError, ValidationFailed
from medianest.integrations.models import ServiceConfig
from medianest.integrations.overseerr import OverseerrClient
from medianest.integrations.overseerr_writes import BLOCKED_WEBHOOK_TEST, OverseerrWritesBlocked
from medianest.platform import audit, stored_settings
from medianest.platform.models import SystemSetting

SECRET_SETTING = "overseerr_webhook_secret"  # noqa: S105  (a system_settings key)
SECRET_CONTEXT = "overseerr_webhook_secret"  # noqa: S105  (AES-GCM associated data)
WEBHOOK_PATH = "/api/webhooks/overseerr"
TEST_RECEIVED_KEY = "overseerr-webhook-test-received"
# How long the test waits for Overseerr's notification to reach MediaNest.
TEST_WAIT_SECONDS = 5.0
_SECRET_SHAPE = re.compile(r"^[\x21-\x7e]{16,256}$")  # printable, no spaces (a header value)

# Overseerr's default JSON payload (server/lib/settings.ts), which MediaNest reads.
DEFAULT_JSON_PAYLOAD = """{
  "notification_type": "{{notification_type}}",
  "event": "{{event}}",
  "subject": "{{subject}}",
  "message": "{{message}}",
  "image": "{{image}}",
  "{{media}}": {
    "media_type": "{{media_type}}",
    "tmdbId": "{{media_tmdbid}}",
    "tvdbId": "{{media_tvdbid}}",
    "status": "{{media_status}}",
    "status4k": "{{media_status4k}}"
  },
  "{{request}}": {
    "request_id": "{{request_id}}",
    "requestedBy_email": "{{requestedBy_email}}",
    "requestedBy_username": "{{requestedBy_username}}",
    "requestedBy_avatar": "{{requestedBy_avatar}}"
  },
  "{{issue}}": {
    "issue_id": "{{issue_id}}",
    "issue_type": "{{issue_type}}",
    "issue_status": "{{issue_status}}",
    "reportedBy_email": "{{reportedBy_email}}",
    "reportedBy_username": "{{reportedBy_username}}",
    "reportedBy_avatar": "{{reportedBy_avatar}}"
  },
  "{{comment}}": {
    "comment_message": "{{comment_message}}",
    "commentedBy_email": "{{commentedBy_email}}",
    "commentedBy_username": "{{commentedBy_username}}",
    "commentedBy_avatar": "{{commentedBy_avatar}}"
  },
  "{{extra}}": []
}"""


@dataclass(frozen=True)
class WebhookSetup:
    """What the admin pastes into Overseerr (Settings → Notifications → Webhook)."""

    secret_set: bool
    webhook_url: str
    json_payload: str


@dataclass(frozen=True)
class WebhookTest:
    sent: bool
    received: bool
    message: str


async def current_secret(session: AsyncSession, ctx: AppContext) -> str | None:
    """The secret in force: the admin's (encrypted), else a legacy plain `webhookSecret`
    in the Overseerr service config, else `MEDIANEST_OVERSEERR_WEBHOOK_SECRET`."""
    stored = await stored_secret(session, ctx.secret_box)
    if stored:
        return stored
    config = await session.get(ServiceConfig, "overseerr")
    legacy = (config.config_data or {}).get("webhookSecret") if config is not None else None
    if isinstance(legacy, str) and legacy:
        return legacy
    setting = ctx.settings.overseerr_webhook_secret
    return setting.get_secret_value() if setting is not None else None


async def stored_secret(session: AsyncSession, box: SecretBox) -> str | None:
    row = await session.get(SystemSetting, SECRET_SETTING)
    if row is None or not isinstance(row.value, dict):
        return None
    try:
        return box.decrypt(str(row.value.get("ciphertext", "")), context=SECRET_CONTEXT)
    except DecryptionError:
        return None


def webhook_url(ctx: AppContext, *, base_url: str) -> str:
    """Where Overseerr posts: the public URL when set, else the address the admin used."""
    root = (ctx.settings.public_url or base_url).rstrip("/")
    return root + WEBHOOK_PATH


async def setup(session: AsyncSession, *, ctx: AppContext, base_url: str) -> WebhookSetup:
    return WebhookSetup(
        secret_set=bool(await current_secret(session, ctx)),
        webhook_url=webhook_url(ctx, base_url=base_url),
        json_payload=DEFAULT_JSON_PAYLOAD,
    )


async def set_secret(
    session: AsyncSession,
    *,
    ctx: AppContext,
    secret: str | None,
    actor_id: uuid.UUID,
    ip: str | None,
) -> str:
    """Store a new secret (the admin's, or a generated one when None); returns it so it
    can be shown once. The previous secret stops working when this commits."""
    if secret is None:
        secret = secrets.token_urlsafe(32)
    elif not _SECRET_SHAPE.match(secret):
        raise ValidationFailed(
            "The webhook secret must be 16 to 256 printable characters without spaces.",
            details={"fields": [{"field": "secret", "message": "16-256 characters, no spaces"}]},
        )
    value = {"ciphertext": ctx.secret_box.encrypt(secret, context=SECRET_CONTEXT)}
    await stored_settings.save(session, SECRET_SETTING, value)
    await session.flush()  # read back by `setup` in the same request (a `get` does not flush)
    audit.record(
        session,
        action="overseerr.webhook_secret_set",
        actor_id=actor_id,
        target="overseerr",
        ip=ip,
    )
    return secret


async def note_test_received(ctx: AppContext) -> None:
    """Called by the webhook endpoint for an authorized TEST_NOTIFICATION."""
    await ctx.cache.set(TEST_RECEIVED_KEY, {"at": time.time()}, 600)


async def send_test(
    session: AsyncSession, *, ctx: AppContext, overseerr: OverseerrClient | None, base_url: str
) -> WebhookTest:
    """Ask Overseerr to send its test notification with these settings, then wait for it."""
    secret = await current_secret(session, ctx)
    name = ctx.integrations.display_name("overseerr")
    if not secret:
        return WebhookTest(False, False, "Set a webhook secret first.")
    if overseerr is None:
        return WebhookTest(False, False, f"{name} is not configured, so it cannot send a test.")
    started = time.time()
    try:
        await overseerr.send_webhook_test(
            webhook_url=webhook_url(ctx, base_url=base_url),
            authorization=secret,
            template=DEFAULT_JSON_PAYLOAD,
        )
    except OverseerrWritesBlocked:
        return WebhookTest(False, False, BLOCKED_WEBHOOK_TEST.format(name=name))
    except MediaNestError as exc:
        return WebhookTest(False, False, f"{name} could not send the test: {exc.message}")
    deadline = time.monotonic() + TEST_WAIT_SECONDS
    while time.monotonic() < deadline:
        seen = await ctx.cache.get(TEST_RECEIVED_KEY)
        if isinstance(seen, dict) and float(seen.get("at", 0)) >= started - 1:
            return WebhookTest(True, True, f"{name}'s test notification arrived.")
        await asyncio.sleep(0.2)
    return WebhookTest(
        True,
        False,
        f"{name} sent the test, but it did not arrive here: check that {name} can "
        "reach the webhook URL.",
    )
