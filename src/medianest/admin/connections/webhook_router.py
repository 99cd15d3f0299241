"""Admin API for Overseerr's webhook: the settings to paste into Overseerr, setting or
rotating the shared secret (write-only: shown once in the answer that sets it), and a
test through Overseerr's own test notification."""

from __future__ import annotations

from fastapi import Request
from pydantic import Field

from medianest.auth.cookies import client_ip
from medianest.auth.dependencies import AdminUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import ERROR_RESPONSES, ApiInput, ApiModel, Envelope, envelope
from medianest.media import webhook_setup

router = api_router(
    prefix="/api/admin/services/overseerr/webhook", tags=["admin"], responses=ERROR_RESPONSES
)


class WebhookSetupOut(ApiModel):
    """Overseerr → Settings → Notifications → Webhook: `webhookUrl` goes in "Webhook URL",
    the secret in "Authorization Header", `jsonPayload` in "JSON Payload"."""

    secret_set: bool
    webhook_url: str
    json_payload: str
    # Only in the answer that set it; never readable afterwards.
    secret: str | None = None


class WebhookSecretIn(ApiInput):
    """Omit `secret` (or send null) to have MediaNest generate a strong one."""

    secret: str | None = Field(default=None, max_length=256)


class WebhookTestOut(ApiModel):
    sent: bool
    received: bool
    message: str


def _base_url(request: Request) -> str:
    return str(request.base_url)


@router.get("", response_model=Envelope[WebhookSetupOut])
async def get_webhook_setup(
    request: Request, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Envelope[WebhookSetupOut]:
    """The settings to paste into Overseerr, and whether a secret is set (never the secret)."""
    setup = await webhook_setup.setup(session, ctx=ctx, base_url=_base_url(request))
    return envelope(WebhookSetupOut.model_validate(setup, from_attributes=True))


@router.put("/secret", response_model=Envelope[WebhookSetupOut])
async def set_webhook_secret(
    body: WebhookSecretIn, request: Request, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Envelope[WebhookSetupOut]:
    """Set or rotate the secret; the answer shows it once (paste it into Overseerr now)."""
    secret = await webhook_setup.set_secret(
        session,
        ctx=ctx,
        secret=body.secret,
        actor_id=admin.id,
        ip=client_ip(request, ctx.settings),
    )
    setup = await webhook_setup.setup(session, ctx=ctx, base_url=_base_url(request))
    out = WebhookSetupOut.model_validate(setup, from_attributes=True)
    return envelope(out.model_copy(update={"secret": secret}))


@router.post("/test", response_model=Envelope[WebhookTestOut])
async def test_webhook(
    request: Request, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Envelope[WebhookTestOut]:
    """Ask Overseerr to send its test notification here, and say whether it arrived."""
    result = await webhook_setup.send_test(
        session,
        ctx=ctx,
        overseerr=await ctx.integrations.overseerr(),
        base_url=_base_url(request),
    )
    return envelope(WebhookTestOut.model_validate(result, from_attributes=True))
