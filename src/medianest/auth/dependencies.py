"""Who is asking: one dependency for "signed in", one for "admin".

A request is authenticated by the session cookie or by `Authorization: Bearer
<personal API token>`. Cookie-authenticated unsafe requests must echo the CSRF
cookie in `X-CSRF-Token`. Disabled users are refused and their sessions end.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import cookie_parser
from starlette.types import Scope

from medianest.auth import plex_service
from medianest.auth import sessions as session_store
from medianest.auth.cookies import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from medianest.auth.models import ApiToken, AuthSession, User
from medianest.auth.session_cache import session_cache_of
from medianest.core import passwords
from medianest.core.context import AppContext
from medianest.core.deps import ContextDep, SessionDep, context_of
from medianest.core.errors import (
    CsrfFailed,
    PasswordChangeRequired,
    PermissionDenied,
    Unauthenticated,
)
from medianest.core.ratelimit import RateLimitResult
from medianest.core.tokens import hash_token, tokens_equal
from medianest.db.base import utcnow

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RATE_LIMITED_MESSAGE = "Too many requests. Slow down and try again shortly."


@dataclass
class Identity:
    user: User
    via: Literal["session", "token"]
    auth_session: AuthSession | None = None
    session_token: str | None = None


async def _identity_from_bearer(session: SessionDep, token: str) -> Identity | None:
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
        return None
    user = await session.get(User, row.user_id)
    if user is None:
        return None
    row.last_used_at = now
    return Identity(user=user, via="token")


async def resolve_identity(
    request: Request, response: Response, session: SessionDep, ctx: ContextDep
) -> Identity | None:
    """The caller's identity, or None. Cached on the request for later dependencies."""
    if hasattr(request.state, "identity"):
        cached: Identity | None = request.state.identity
        return cached
    identity: Identity | None = None
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        identity = await _identity_from_bearer(session, authorization[7:].strip())
        if identity is None:
            raise Unauthenticated("The API token is invalid or revoked.")
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            found = await session_store.resolve_session(
                session, token=token, settings=ctx.settings, cache=session_cache_of(ctx)
            )
            if found is not None:
                identity = Identity(
                    user=found[1], via="session", auth_session=found[0], session_token=token
                )
        if identity is None:
            restore = ctx.services.get("remember_me_restore")
            if restore is not None:
                identity = await restore(request, response, session, ctx)
    if identity is not None and not identity.user.is_active:
        await session_store.destroy_user_sessions(session, user_id=identity.user.id)
        identity = None
    # A Plex user's token is re-checked now and then (cheap: usually no plex.tv call).
    plex_token_check = ctx.services.get("plex_token_check")
    if identity is not None and identity.via == "session" and plex_token_check is not None:
        await plex_token_check(request, session, ctx, identity)
    request.state.identity = identity
    return identity


async def _signed_in(
    request: Request, response: Response, session: AsyncSession, ctx: AppContext
) -> Identity:
    """The caller, signed in: CSRF checked and the API rate limit counted, once a request.

    Plain calls rather than a chain of dependencies: each level of FastAPI dependency
    costs a resolution on every request, and this runs on every authenticated one.
    """
    if hasattr(request.state, "signed_in"):
        checked: Identity = request.state.signed_in
        return checked
    identity = await resolve_identity(request, response, session, ctx)
    if identity is None:
        raise Unauthenticated()
    if identity.via == "session" and request.method in UNSAFE_METHODS:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        header = request.headers.get(CSRF_HEADER, "")
        if not cookie or not header or not tokens_equal(cookie, header):
            raise CsrfFailed()
    result = await count_api_request(ctx, identity.user.id)
    for key, value in result.headers.items():
        response.headers[key] = value
    result.raise_if_exceeded(RATE_LIMITED_MESSAGE)
    request.state.signed_in = identity
    return identity


@functools.lru_cache(maxsize=4096)
def _api_limit_key(user_id: uuid.UUID) -> str:
    return f"api:{user_id}"  # str(UUID) costs more than the rest of a leased hit


async def count_api_request(ctx: AppContext, user_id: uuid.UUID) -> RateLimitResult:
    """One request against the user's API rate limit (the same count however answered)."""
    limits = ctx.services.get("runtime_limits")
    per_minute = limits.api_per_minute if limits else ctx.settings.rate_limit_api_per_minute
    return await ctx.rate_limiter.hit(
        _api_limit_key(user_id), limit=per_minute, window_seconds=60, leased=True
    )


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
    """The caller of a GET when memory alone proves it, else None (then ask `_signed_in`).

    Only a cookie session found in the session cache, for an active user with nothing
    to do first (no password change, no Plex token check due): every other case —
    bearer tokens, remember-me, expired or unknown sessions — needs the database and
    its errors, and is left to the dependencies above. The user is for reading only.
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
    if user is None:
        return None
    if not user.is_active or user.must_change_password:
        return None
    if ctx.services.get("plex_token_check") is not None and plex_service.token_check_due(
        user, check_minutes=ctx.settings.plex_token_check_minutes
    ):
        return None
    return user


async def get_identity_allowing_password_change(
    request: Request, response: Response, session: SessionDep
) -> Identity:
    """For change-password, logout and session: reachable while a change is required."""
    return await _signed_in(request, response, session, context_of(request))


async def get_identity(request: Request, response: Response, session: SessionDep) -> Identity:
    identity = await _signed_in(request, response, session, context_of(request))
    if identity.user.must_change_password:
        raise PasswordChangeRequired()
    return identity


async def get_current_user(request: Request, response: Response, session: SessionDep) -> User:
    return (await get_identity(request, response, session)).user


async def get_admin_user(request: Request, response: Response, session: SessionDep) -> User:
    user = await get_current_user(request, response, session)
    if not user.is_admin:
        raise PermissionDenied("Only administrators can do this.")
    return user


async def admit_sign_in() -> AsyncIterator[None]:
    with passwords.sign_in_admission():
        yield


# For routes that check a password before anything else: see `sign_in_admission`.
SignInAdmission = Depends(admit_sign_in, scope="function")
IdentityDep = Annotated[Identity, Depends(get_identity)]
PasswordChangeIdentity = Annotated[Identity, Depends(get_identity_allowing_password_change)]
CurrentUser = Annotated[User, Depends(get_current_user)]
AdminUser = Annotated[User, Depends(get_admin_user)]
