"""Plex PIN sign-in endpoints: create a PIN, poll it, complete the sign-in.

The browser that created a PIN gets an httpOnly binding cookie; only a request carrying
it can poll or complete that PIN, so a leaked PIN id signs nobody else in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Request, Response
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.cookies import client_ip, is_https, set_csrf_cookie
from medianest.auth.events import SignInRefused
from medianest.auth.exceptions import PinDeclined, PinExpired
from medianest.auth.plex_sign_in import service as plex_service
from medianest.auth.schemas import UserOut
from medianest.auth.signin import complete_sign_in
from medianest.context import AppContext, ContextDep
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import (
    ERROR_RESPONSES,
    ApiInput,
    ApiModel,
    Envelope,
    envelope,
    error_response,
)
from medianest.core.errors import MediaNestError
from medianest.core.events import publish
from medianest.core.tokens import new_token
from medianest.platform import audit

PIN_BINDING_COOKIE = "medianest_pin"
# PIN creation calls plex.tv; bound it per client address.
PIN_CREATE_WINDOW_SECONDS = 600

router = api_router(
    prefix="/api/auth/plex",
    tags=["auth"],
    responses={
        **ERROR_RESPONSES,
        410: error_response("PIN expired, or declined at plex.tv"),
    },
)


class CreatePin(ApiInput):
    remember_me: bool = False
    forward_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://")


class PinOut(ApiModel):
    id: int
    code: str
    auth_url: str
    expires_at: datetime


# plex.tv's PIN ids are positive integers; the bound is the database's BIGINT.
MAX_PIN_ID = 2**63 - 1


class CompletePin(ApiInput):
    pin_id: int = Field(ge=1, le=MAX_PIN_ID)
    remember_me: bool | None = None


class PinStatusOut(ApiModel):
    """`pending` until the user approves at plex.tv; then `authorized` with the session."""

    status: Literal["pending", "authorized"]
    expires_at: datetime | None = None
    user: UserOut | None = None
    password_change_required: bool | None = None
    csrf_token: str | None = None


@router.post("/pin", response_model=Envelope[PinOut], status_code=201)
async def create_pin(
    request: Request,
    response: Response,
    session: SessionDep,
    ctx: ContextDep,
    body: CreatePin | None = None,
) -> Envelope[PinOut]:
    """Start a Plex sign-in: a strong PIN and the app.plex.tv URL where the user approves it."""
    body = body or CreatePin()
    limited = await ctx.rate_limiter.hit(
        f"plex-pin:{client_ip(request, ctx.settings)}",
        limit=ctx.settings.rate_limit_plex_pins,
        window_seconds=PIN_CREATE_WINDOW_SECONDS,
    )
    limited.raise_if_exceeded("Too many sign-in attempts. Wait before trying again.")
    binding = request.cookies.get(PIN_BINDING_COOKIE) or new_token(32)
    record, url = await plex_service.create_pin(
        session, ctx, binding=binding, remember_me=body.remember_me, forward_url=body.forward_url
    )
    response.set_cookie(
        PIN_BINDING_COOKIE,
        binding,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=is_https(request, ctx.settings),
        path="/api/auth/plex",
    )
    set_csrf_cookie(response, request, ctx.settings)
    return envelope(
        PinOut(id=record.pin_id, code=record.code, auth_url=url, expires_at=record.expires_at)
    )


@router.get("/pin/{pin_id}", response_model=Envelope[PinStatusOut])
async def poll_pin(
    pin_id: Annotated[int, Path(ge=1, le=MAX_PIN_ID)],
    request: Request,
    response: Response,
    session: SessionDep,
    ctx: ContextDep,
) -> Envelope[PinStatusOut]:
    """Poll a PIN; once approved at plex.tv this signs the browser in and returns the user."""
    return envelope(
        await _advance(request, response, session, ctx, pin_id=pin_id, remember_me=None)
    )


@router.post("", response_model=Envelope[PinStatusOut])
async def complete_plex_sign_in(
    body: CompletePin, request: Request, response: Response, session: SessionDep, ctx: ContextDep
) -> Envelope[PinStatusOut]:
    """Complete the sign-in for a PIN (the same effect as a successful poll)."""
    return envelope(
        await _advance(
            request, response, session, ctx, pin_id=body.pin_id, remember_me=body.remember_me
        )
    )


async def _advance(
    request: Request,
    response: Response,
    session: AsyncSession,
    ctx: AppContext,
    *,
    pin_id: int,
    remember_me: bool | None,
) -> PinStatusOut:
    try:
        poll = await plex_service.poll_pin(
            session, ctx, pin_id=pin_id, binding=request.cookies.get(PIN_BINDING_COOKIE)
        )
    except (PinExpired, PinDeclined):
        await plex_service.forget_pin(session, ctx, pin_id=pin_id)
        raise
    if poll.auth_token is None:
        return PinStatusOut(status="pending", expires_at=poll.record.expires_at)
    try:
        user = await plex_service.sign_in_account(session, ctx, token=poll.auth_token)
    except MediaNestError as exc:
        if exc.status_code in (401, 403):
            await _record_refusal(session, request, ctx, pin_id=pin_id, reason=exc.code)
            exc.keeps_writes = True  # the refusal's audit entry and event, nothing else
        raise
    await plex_service.forget_pin(session, ctx, pin_id=pin_id)
    signed_in = await complete_sign_in(
        request,
        response,
        session,
        ctx,
        user=user,
        remember_me=poll.record.remember_me if remember_me is None else remember_me,
        method="plex",
    )
    response.delete_cookie(PIN_BINDING_COOKIE, path="/api/auth/plex")
    return PinStatusOut(
        status="authorized",
        user=signed_in.user,
        password_change_required=signed_in.password_change_required,
        csrf_token=signed_in.csrf_token,
    )


async def _record_refusal(
    session: AsyncSession, request: Request, ctx: AppContext, *, pin_id: int, reason: str
) -> None:
    """Refused sign-ins are audited: what the attempt wrote is rolled back first, then the
    refusal is recorded (the error that follows keeps the writes: only these)."""
    details: dict[str, Any] = {"method": "plex", "reason": reason}
    await session.rollback()
    audit.record(
        session,
        action="auth.login_failed",
        actor_id=None,
        target=f"plex-pin:{pin_id}",
        details=details,
        ip=client_ip(request, ctx.settings),
    )
    await publish(session, SignInRefused(reason=reason))
