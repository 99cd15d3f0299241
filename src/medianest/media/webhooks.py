"""`POST /api/webhooks/overseerr`: Overseerr tells us a request changed.

Not a user endpoint: the caller proves itself with the shared secret in the
`Authorization` header (compared in constant time). Changes are committed before they
are pushed to the owners over Socket.IO.
"""

from __future__ import annotations

import json

from fastapi import Request

from medianest.context import ContextDep
from medianest.core.deps import api_router
from medianest.core.envelope import ERROR_RESPONSES, Envelope, envelope
from medianest.core.errors import PayloadTooLarge, ValidationFailed
from medianest.core.logging import get_logger
from medianest.db.engine import session_scope
from medianest.media import sync, webhook_setup
from medianest.media.schemas import WebhookAck

log = get_logger(__name__)

router = api_router(prefix="/api/webhooks", tags=["webhooks"], responses=ERROR_RESPONSES)

# Overseerr's default payload is about 1 KB; anything far larger is not from it.
MAX_WEBHOOK_BYTES = 64 * 1024


@router.post("/overseerr", response_model=Envelope[WebhookAck])
async def overseerr_webhook(request: Request, ctx: ContextDep) -> Envelope[WebhookAck]:
    """Apply a request notification from Overseerr; TEST_NOTIFICATION is acknowledged."""
    async with session_scope(ctx.session_factory) as session:
        secret = await sync.webhook_secret(session, ctx)
    sync.check_webhook_authorization(request.headers.get("authorization"), secret)
    raw = await request.body()
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge("The webhook payload is too large.")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # nested deeper than the decoder recurses
        raise ValidationFailed("The webhook payload is not JSON.") from None
    payload = sync.parse_webhook(body)
    if payload.notification_type == "TEST_NOTIFICATION":
        await webhook_setup.note_test_received(ctx)  # the admin page's "Send test" waits
    async with session_scope(ctx.session_factory) as session:
        service = ctx.integrations.display_name("overseerr")
        changes = await sync.apply_webhook(session, payload, service_name=service)
    await sync.announce(ctx, changes)
    log.info(
        "overseerr_webhook_received",
        notification_type=payload.notification_type[:40],
        updated=len(changes),
    )
    return envelope(WebhookAck(received=payload.notification_type[:40], updated=len(changes)))
