"""Remember me: a one-time 256-bit token in a long-lived cookie, only its SHA-256 stored.

Every use signs the browser in with a fresh session and rotates the token within its
family. Presenting a token that was already used means someone else holds a copy
(theft): the whole family is revoked and the user's sessions end. One exception: the
same client (address and browser) presenting it again within
`remember_me_reuse_grace_seconds` of its use (tabs restored at once) gets a session
without a new token.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from fastapi import Request, Response
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.cookies import (
    REMEMBER_COOKIE,
    client_ip,
    set_remember_cookie,
)
from medianest.auth.models import SessionToken, User
from medianest.auth.sessions import store as session_store
from medianest.auth.sessions.browser import open_browser_session
from medianest.auth.sessions.cache import write_user_at_commit
from medianest.context import AppContext
from medianest.core.errors import Unauthenticated
from medianest.core.logging import get_logger
from medianest.core.tokens import hash_token, new_token
from medianest.db.base import utcnow
from medianest.platform import audit

log = get_logger(__name__)


async def issue_remember_token(
    request: Request,
    response: Response,
    session: AsyncSession,
    ctx: AppContext,
    user: User,
    *,
    family_id: uuid.UUID | None = None,
) -> None:
    """Set a new remember-me cookie (a new family unless rotating within one)."""
    token = new_token(32)
    session.add(
        SessionToken(
            user_id=user.id,
            token_hash=hash_token(token),
            family_id=family_id or uuid.uuid4(),
            expires_at=utcnow() + timedelta(days=ctx.settings.remember_me_days),
        )
    )
    set_remember_cookie(response, request, ctx.settings, token)


async def revoke_family(session: AsyncSession, *, family_id: uuid.UUID) -> None:
    await session.execute(
        update(SessionToken)
        .where(SessionToken.family_id == family_id, SessionToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def restore_from_remember_token(
    request: Request,
    response: Response,
    session: AsyncSession,
    ctx: AppContext,
    *,
    before_claim: Callable[[User], Awaitable[None]],
) -> tuple[User, str] | None:
    """Sign the browser in from its remember-me cookie: the user and the new session
    token, or None when there is no usable cookie.

    `before_claim(user)`: the caller's checks that wait on another service (the Plex
    token re-check asks plex.tv), run before this unit of work's first write: on SQLite
    the claim's UPDATE takes the write lock until the request commits, and every other
    writer of the app (sign-ins, session touches, leases) waited for plex.tv meanwhile."""
    token = request.cookies.get(REMEMBER_COOKIE)
    found = await _usable_token(session, token) if token else None
    if found is None:
        return None
    row, user = found
    await before_claim(user)
    now = utcnow()
    ip = client_ip(request, ctx.settings)
    client = _client_fingerprint(ip, request.headers.get("user-agent"))
    # Claim the token atomically: of two requests racing with one token, one wins.
    claimed = await session.execute(
        update(SessionToken)
        .where(
            SessionToken.id == row.id,
            SessionToken.used_at.is_(None),
            SessionToken.revoked_at.is_(None),
        )
        .values(used_at=now, last_used_at=now, used_by=client)
        .execution_options(synchronize_session=False)
    )
    rotate = getattr(claimed, "rowcount", 0) == 1
    if not rotate:
        # The winner's claim is committed by now (its UPDATE held the row until then).
        used = await session.scalar(
            select(SessionToken)
            .where(SessionToken.id == row.id)
            .execution_options(populate_existing=True)
        )
        if used is None or used.used_at is None:
            # Revoked (or purged) since it was read, not used: this browser's other tab
            # signed out, or the user everywhere. Signed out here too, no theft.
            return None
        if not _same_client_within_grace(used, client, now, ctx):
            await _reject_reused_token(session, row=row, ip=ip)
    token, _csrf = await open_browser_session(request, response, session, ctx, user=user)
    if rotate:
        await issue_remember_token(request, response, session, ctx, user, family_id=row.family_id)
    # Else a sibling tab within the grace window: the winner's answer carries the family's
    # next token, and this one sets none, so the browser keeps that one.
    write_user_at_commit(session, user, last_login_at=now)  # no error if deleted meanwhile
    audit.record(
        session, action="auth.login", actor_id=user.id, details={"method": "remember_me"}, ip=ip
    )
    return user, token


async def _usable_token(session: AsyncSession, token: str) -> tuple[SessionToken, User] | None:
    """The unrevoked, unexpired remember-me token and its active user (else None; an
    inactive or deleted user's family is revoked)."""
    row = await session.scalar(
        select(SessionToken).where(SessionToken.token_hash == hash_token(token))
    )
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        await revoke_family(session, family_id=row.family_id)
        return None
    return row, user


def _client_fingerprint(ip: str | None, user_agent: str | None) -> str:
    """Which client presents a token: its address and browser, hashed (never stored raw)."""
    return hashlib.sha256(f"{ip or ''}\n{user_agent or ''}".encode()).hexdigest()


def _same_client_within_grace(
    used: SessionToken, client: str, now: datetime, ctx: AppContext
) -> bool:
    """A browser restoring several tabs at once sends the same cookie from each before
    the first answer's rotated cookie arrives. The same client (address and browser)
    within a few seconds of the rotation is that, not theft; anyone else, or later, is."""
    grace = timedelta(seconds=ctx.settings.remember_me_reuse_grace_seconds)
    return (
        used.revoked_at is None
        and used.used_at is not None
        and now - used.used_at <= grace
        and used.used_by is not None
        and hmac.compare_digest(used.used_by, client)
    )


async def _reject_reused_token(session: AsyncSession, *, row: SessionToken, ip: str | None) -> None:
    """A used token came back: revoke its family and end the user's sessions, then 401.

    Committed before raising, because the request's unit of work is rolled back on errors.
    """
    await revoke_family(session, family_id=row.family_id)
    await session_store.destroy_user_sessions(session, user_id=row.user_id)
    audit.record(
        session,
        action="auth.remember_token_reused",
        actor_id=row.user_id,
        target=str(row.family_id),
        ip=ip,
    )
    log.warning("remember_token_reused", user_id=str(row.user_id), family_id=str(row.family_id))
    raise Unauthenticated(
        "This sign-in link was already used; sign in again.",
        details={"reason": "remember_token_reused"},
        keeps_writes=True,  # the family's sessions stay ended, the reuse audited
    )


async def forget_remember_token(request: Request, session: AsyncSession) -> None:
    """Logout: the browser's remember-me family can no longer be used."""
    token = request.cookies.get(REMEMBER_COOKIE)
    if not token:
        return
    row = await session.scalar(
        select(SessionToken).where(SessionToken.token_hash == hash_token(token))
    )
    if row is not None:
        await revoke_family(session, family_id=row.family_id)
