"""Server-side sessions: an opaque cookie token, its hash as the row key.

Idle timeout and absolute lifetime come from settings; rotating a session means
deleting the old row and issuing a new token.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import AuthSession, User
from medianest.auth.sessions.cache import SessionCache, attach_user, readable_user
from medianest.core.single_flight import wait_for_turn
from medianest.core.tokens import hash_token, new_token
from medianest.db.base import utcnow
from medianest.db.engine import write_at_commit
from medianest.settings import Settings

# Writing last_seen on every request would turn reads into writes; once a minute is enough
# (more often only for an idle limit under two minutes: a session in use must be touched
# before it counts as idle).
_TOUCH_INTERVAL = timedelta(seconds=60)
# How long a request waits for another request's read of the same session.
READ_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_at: datetime


def touch_interval(settings: Settings) -> timedelta:
    """How long a session's last-seen time may stand before a request writes it again."""
    return min(_TOUCH_INTERVAL, timedelta(minutes=settings.session_idle_minutes) / 2)


def session_ends_at(row: AuthSession, settings: Settings) -> datetime:
    """When a session ends unless used again: its idle limit (counted from its last
    touch by a request) or its absolute expiry, whichever comes first."""
    return min(row.expires_at, row.last_seen_at + timedelta(minutes=settings.session_idle_minutes))


def live_sessions(now: datetime, settings: Settings) -> ColumnElement[bool]:
    """`session_ends_at(row) > now` as SQL: the sessions still standing (the purge deletes
    the others; open sockets are re-checked with it)."""
    idle_before = now - timedelta(minutes=settings.session_idle_minutes)
    return and_(AuthSession.expires_at > now, AuthSession.last_seen_at > idle_before)


async def create_session(
    session: AsyncSession,
    *,
    user: User,
    settings: Settings,
    ip: str | None,
    user_agent: str | None,
) -> IssuedSession:
    token = new_token()
    now = utcnow()
    expires_at = now + timedelta(hours=settings.session_absolute_hours)
    session.add(
        AuthSession(
            id=hash_token(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            ip=ip,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    return IssuedSession(token=token, expires_at=expires_at)


async def resolve_session(
    session: AsyncSession,
    *,
    token: str,
    settings: Settings,
    cache: SessionCache | None = None,
) -> tuple[AuthSession | None, User] | None:
    """The live session and its user, or None (unknown, idle too long, or expired).

    From `cache` when it holds the token (no query; the session row is then not
    loaded, hence None), else from the database, filling the cache.
    """
    token_hash = hash_token(token)
    if cache is None:
        return await _read_session(session, token_hash, settings, None)
    cached = cache.get(token_hash)
    if cached is None:
        reading = cache.reading(token_hash)
        if reading is None:
            try:
                return await _read_session(session, token_hash, settings, cache)
            finally:
                cache.end_reading(token_hash)
        # Another request of this session reads it (every request in flight when its
        # entry went, under load each read waiting its loop turn): its answer, or ours.
        await wait_for_turn(reading, READ_WAIT_SECONDS)
        cached = cache.get(token_hash)
    if cached is not None:
        return None, attach_user(session.sync_session, readable_user(cached))
    return await _read_session(session, token_hash, settings, cache)


async def _read_session(
    session: AsyncSession, token_hash: str, settings: Settings, cache: SessionCache | None
) -> tuple[AuthSession | None, User] | None:
    if cache is not None:
        generation = cache.generation
        cache.begin_refresh(token_hash)  # the session's other requests need not read too
    # One round trip for both rows.
    found = (
        await session.execute(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.id == token_hash)
        )
    ).first()
    if found is None:
        if cache is not None:
            cache.forget(token_hash)
        return None
    row, user = found
    now = utcnow()
    if session_ends_at(row, settings) <= now:
        await session.delete(row)  # its commit drops the cache entry everywhere
        return None
    idle_limit = row.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    touch_every = touch_interval(settings)
    if now - row.last_seen_at > touch_every:
        # At commit, and no error if the session ended meanwhile (another tab signed out).
        write_at_commit(session, row, last_seen_at=now)
        idle_limit = now + timedelta(minutes=settings.session_idle_minutes)
    if cache is not None and not user.is_active:
        cache.forget(token_hash)
    elif cache is not None:
        # Until the row needs its next touch (which also bounds the idle check).
        cache.put(
            token_hash,
            user,
            generation=generation,
            valid_until=row.last_seen_at + touch_every,
            session_ends=min(row.expires_at, idle_limit),
        )
    return row, user


def _drop_unwritten(session: AsyncSession, ends: Callable[[AuthSession], bool]) -> None:
    """Sessions this request made and has not written yet (remember-me restores one
    before the endpoint runs; sessions do not autoflush) are invisible to a DELETE, and
    its commit would insert them after it: they leave the unit of work instead."""
    for row in list(session.new):
        if isinstance(row, AuthSession) and ends(row):
            session.expunge(row)


async def destroy_session(session: AsyncSession, *, token: str) -> None:
    token_hash = hash_token(token)
    _drop_unwritten(session, lambda row: row.id == token_hash)
    await session.execute(delete(AuthSession).where(AuthSession.id == token_hash))


async def destroy_user_sessions(
    session: AsyncSession, *, user_id: uuid.UUID, keep_token: str | None = None
) -> int:
    """End every session of the user (but `keep_token`'s): how many rows went."""
    statement = delete(AuthSession).where(AuthSession.user_id == user_id)
    kept = hash_token(keep_token) if keep_token is not None else None
    if kept is not None:
        statement = statement.where(AuthSession.id != kept)
    before = len(session.new)
    _drop_unwritten(session, lambda row: row.user_id == user_id and row.id != kept)
    result = await session.execute(statement)
    return before - len(session.new) + int(getattr(result, "rowcount", 0) or 0)


async def count_other_sessions(
    session: AsyncSession, *, user_id: uuid.UUID, token: str, settings: Settings
) -> int:
    """How many of the user's sessions still stand, besides `token`'s."""
    found = await session.scalar(
        select(func.count())
        .select_from(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.id != hash_token(token),
            live_sessions(utcnow(), settings),
        )
    )
    return int(found or 0)


async def count_active_sessions(session: AsyncSession) -> int:
    rows = await session.execute(select(AuthSession.id).where(AuthSession.expires_at > utcnow()))
    return len(rows.all())
