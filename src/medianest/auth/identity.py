"""Who a request is: the one place that decides, from a bearer token, a session cookie
or a remember-me cookie. The FastAPI dependencies (`auth.dependencies`), the pages and
the hot paths all ask here."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import cookie_parser
from starlette.types import Scope

from medianest.auth import plex_revalidation, plex_service, remember
from medianest.auth import sessions as session_store
from medianest.auth.cookies import SESSION_COOKIE
from medianest.auth.models import ApiToken, AuthSession, User
from medianest.auth.session_cache import session_cache_of
from medianest.context import AppContext
from medianest.core.errors import Unauthenticated
from medianest.core.tokens import hash_token
from medianest.db.base import utcnow


@dataclass
class Identity:
    user: User
    via: Literal["session", "token"]
    auth_session: AuthSession | None = None
    session_token: str | None = None


async def _identity_from_bearer(session: AsyncSession, token: str) -> Identity | None:
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
        return None
    user = await session.get(User, row.user_id)
    if user is None:
        return None
    row.last_used_at = now
    return Identity(user=user, via="token")


async def _identity_from_cookies(
    request: Request, response: Response, session: AsyncSession, ctx: AppContext
) -> Identity | None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = await session_store.resolve_session(
            session, token=token, settings=ctx.settings, cache=session_cache_of(ctx)
        )
        if found is not None:
            return Identity(
                user=found[1], via="session", auth_session=found[0], session_token=token
            )
    restored = await remember.restore_from_remember_token(request, response, session, ctx)
    if restored is None:
        return None
    user, token = restored
    return Identity(user=user, via="session", auth_session=None, session_token=token)


async def identify(
    request: Request, response: Response, session: AsyncSession, ctx: AppContext
) -> Identity | None:
    """The caller, or None when anonymous. A revoked or unknown bearer token is refused;
    a disabled user's sessions end; a Plex user's token is re-checked when due."""
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        identity = await _identity_from_bearer(session, authorization[7:].strip())
        if identity is None:
            raise Unauthenticated("The API token is invalid or revoked.")
    else:
        identity = await _identity_from_cookies(request, response, session, ctx)
    if identity is not None and not identity.user.is_active:
        await session_store.destroy_user_sessions(session, user_id=identity.user.id)
        return None
    # A Plex user's token is re-checked now and then (cheap: usually no plex.tv call).
    if identity is not None and identity.via == "session":
        await plex_revalidation.revalidate_plex_token(request, session, ctx, identity.user)
    return identity


@functools.lru_cache(maxsize=4096)
def _session_token_hash(cookie_header: bytes) -> str | None:
    """The hash of the session token in a Cookie header, read as `Request.cookies` reads
    it. Cached by header: a browser or poller sends the same header on every request, and
    parsing and hashing it again was a sixth of a cached answer's own time. The process
    holds these headers while it serves them anyway; the cache only keeps the last 4,096
    (a token that is signed out maps to a hash the session cache no longer knows)."""
    token = cookie_parser(cookie_header.decode("latin-1")).get(SESSION_COOKIE)
    return hash_token(token) if token else None


def signed_in_from_memory(ctx: AppContext, scope: Scope) -> User | None:
    """The caller of a GET when memory alone proves it, else None (then ask `identify`).

    Only a cookie session found in the session cache, for an active user with nothing
    to do first (no password change, no Plex token check due): every other case —
    bearer tokens, remember-me, expired or unknown sessions — needs the database and
    its errors, and is left to `identify`. The user is for reading only.
    """
    # What `Request.headers` and `Request.cookies` would read (ASGI header names are
    # lower-case; the first cookie header counts), without building a Request.
    cookie_header = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            return None
        if name == b"cookie" and cookie_header is None:
            cookie_header = value
    token_hash = _session_token_hash(cookie_header) if cookie_header else None
    cache = session_cache_of(ctx)
    if token_hash is None or cache is None:
        return None
    user = cache.get_readable(token_hash)
    if user is None or not user.is_active or user.must_change_password:
        return None
    if plex_service.token_check_due(user, check_minutes=ctx.settings.plex_token_check_minutes):
        return None
    return user
