"""Plex PIN sign-in: create a PIN bound to the browser, poll plex.tv for it (at most once a
second, never past its expiry), then create or update the local user from the Plex account.

Who may sign in at all is `plex_sign_in.access` (by default only the Plex server's people).
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.exceptions import AccountDisabled, PinDeclined, PinExpired, PinNotFound
from medianest.auth.models import PlexPin, Role, User, UserStatus
from medianest.auth.plex_sign_in import access as plex_access
from medianest.context import AppContext
from medianest.core.errors import ServiceUnavailable
from medianest.core.logging import get_logger
from medianest.core.tokens import hash_token, tokens_equal
from medianest.db.base import utcnow
from medianest.integrations.outcomes import outage_message
from medianest.integrations.plextv import PlexAccount, PlexTvClient

log = get_logger(__name__)

PLEX_TOKEN_CONTEXT = "plex_token"  # noqa: S105  (AES-GCM associated data)
# Client polling is answered from the last plex.tv answer for this long (backoff).
PIN_CHECK_INTERVAL_SECONDS = 1.0
# After plex.tv answered 429 (code 1003, polled too fast), wait this long (or Retry-After).
RATE_LIMITED_BACKOFF_SECONDS = 5.0
# How long after expiry we still say "expired" (410) rather than "unknown" (404).
PIN_RECORD_GRACE_SECONDS = 300
_PIN_CHECK_KEY = "plex-pin-check:{}"


@dataclass(frozen=True)
class PinRecord:
    pin_id: int
    code: str
    expires_at: datetime
    binding_hash: str
    remember_me: bool


@dataclass(frozen=True)
class PinPoll:
    """Where a PIN stands: still pending, or approved with the Plex token."""

    record: PinRecord
    auth_token: str | None


def plextv_client(ctx: AppContext) -> PlexTvClient:
    return ctx.integrations.plextv()


def auth_url(ctx: AppContext, *, client_identifier: str, code: str, forward_url: str | None) -> str:
    """The app.plex.tv page where the user approves the PIN (note the `#!?`)."""
    params: list[tuple[str, str]] = [
        ("clientID", client_identifier),
        ("code", code),
        ("context[device][product]", "MediaNest"),
    ]
    if forward_url:
        params.append(("forwardUrl", forward_url))
    return f"{ctx.settings.plex_app_url}/auth/#!?{urllib.parse.urlencode(params)}"


async def create_pin(
    session: AsyncSession,
    ctx: AppContext,
    *,
    binding: str,
    remember_me: bool,
    forward_url: str | None,
) -> tuple[PinRecord, str]:
    """Ask plex.tv for a strong PIN and remember which browser asked (by `binding`)."""
    integrations = ctx.integrations
    client = integrations.plextv()
    try:
        pin = await client.create_pin(strong=True)
    except ServiceUnavailable as exc:
        if await integrations.plex() is None:
            # Most likely a fresh install: the fix is an admin's, not a retry.
            raise ServiceUnavailable(
                outage_message("plex", "not configured"),
                details={"service": "plex", "reason": "not configured"},
            ) from exc
        raise
    expires_at = pin.expires_at.astimezone(UTC)
    record = PinRecord(pin.id, pin.code, expires_at, hash_token(binding), remember_me)
    await session.merge(
        PlexPin(
            pin_id=record.pin_id,
            code=record.code,
            expires_at=record.expires_at,
            binding_hash=record.binding_hash,
            remember_me=record.remember_me,
        )
    )
    url = auth_url(
        ctx, client_identifier=client.client_identifier, code=pin.code, forward_url=forward_url
    )
    return record, url


async def poll_pin(
    session: AsyncSession, ctx: AppContext, *, pin_id: int, binding: str | None
) -> PinPoll:
    """The PIN's state; asks plex.tv at most once per PIN_CHECK_INTERVAL_SECONDS."""
    row = await session.get(PlexPin, pin_id)
    if row is None or row.expires_at + timedelta(seconds=PIN_RECORD_GRACE_SECONDS) <= utcnow():
        raise PinNotFound()
    record = PinRecord(row.pin_id, row.code, row.expires_at, row.binding_hash, row.remember_me)
    # Another browser (or nobody's browser) cannot complete someone else's PIN.
    if not binding or not tokens_equal(hash_token(binding), record.binding_hash):
        raise PinNotFound()
    if record.expires_at <= utcnow():
        raise PinExpired()
    if await ctx.cache.get(_PIN_CHECK_KEY.format(pin_id)) is not None:
        return PinPoll(record, None)
    await ctx.cache.set(
        _PIN_CHECK_KEY.format(pin_id), {"at": time.time()}, PIN_CHECK_INTERVAL_SECONDS
    )
    try:
        pin = await plextv_client(ctx).get_pin(pin_id)
    except ServiceUnavailable as exc:
        if exc.details.get("upstreamStatus") != 429:
            raise
        # plex.tv says we poll too fast: still pending, and ask it less often for a while.
        await ctx.cache.set(
            _PIN_CHECK_KEY.format(pin_id), {"at": time.time()}, RATE_LIMITED_BACKOFF_SECONDS
        )
        return PinPoll(record, None)
    if pin is None:
        # plex.tv forgot the PIN before its expiry: the user pressed Deny (or it was
        # cancelled there). After the expiry it is just expired.
        if record.expires_at > utcnow():
            raise PinDeclined()
        raise PinExpired()
    return PinPoll(record, pin.auth_token)


async def forget_pin(session: AsyncSession, ctx: AppContext, *, pin_id: int) -> None:
    """A PIN signs in once."""
    await session.execute(delete(PlexPin).where(PlexPin.pin_id == pin_id))
    await ctx.cache.delete(_PIN_CHECK_KEY.format(pin_id))


async def upsert_plex_user(
    session: AsyncSession, ctx: AppContext, *, account: PlexAccount, token: str
) -> User:
    """Create or update the local user of a Plex account; new users are plain users."""
    plex_id = str(account.id)
    user = await session.scalar(select(User).where(User.plex_id == plex_id))
    if user is None:
        user = User(plex_id=plex_id, username=account.username, role=Role.USER)
        session.add(user)
        try:
            await session.flush()
        except IntegrityError:
            # Two sign-ins of the same new account (two devices, two tabs) raced to
            # create it; the loser takes the winner's row. Nothing else is written yet
            # in this unit of work, so rolling it back loses nothing.
            await session.rollback()
            user = await session.scalar(select(User).where(User.plex_id == plex_id))
            if user is None:
                raise
    if user.status != UserStatus.ACTIVE:
        raise AccountDisabled(details={"reason": "disabled"})
    user.username = account.username
    user.email = account.email
    user.plex_token = ctx.secret_box.encrypt(token, context=PLEX_TOKEN_CONTEXT)
    user.plex_token_checked_at = utcnow()
    await session.flush()
    return user


async def sign_in_account(session: AsyncSession, ctx: AppContext, *, token: str) -> User:
    """From an approved PIN's token to the local user: lookup, admission, upsert."""
    client = plextv_client(ctx)
    account = await client.get_account(token)
    await plex_access.require_admitted(ctx, account_id=account.id, username=account.username)
    return await upsert_plex_user(session, ctx, account=account, token=token)


def token_check_due(user: User, *, check_minutes: int, now: datetime | None = None) -> bool:
    """A stored token is re-checked when its last check (or the user's creation) is old."""
    if user.plex_token is None:
        return False
    reference = user.plex_token_checked_at or user.created_at
    return reference is None or (now or utcnow()) - reference >= timedelta(minutes=check_minutes)
