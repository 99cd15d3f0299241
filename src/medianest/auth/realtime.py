"""Socket.IO handshake authentication: the same session cookie, or an API token in `auth`,
and the re-check that disconnects a socket once what let it in has ended: at once when
a row changes, and every `socket_recheck_seconds` for sessions that simply ran out."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import cookie_parser

from medianest.auth.cookies import SESSION_COOKIE
from medianest.auth.models import ApiToken, AuthSession, User
from medianest.auth.sessions import store as session_store
from medianest.auth.sessions.cache import ALL, session_cache_for, session_cache_of
from medianest.context import AppContext
from medianest.core.loops import stop_loop
from medianest.core.realtime import SocketPrincipal
from medianest.core.tokens import hash_token
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings

# Credential prefix of API-token sockets; session sockets use the bare hash.
_TOKEN = "token:"  # noqa: S105  (a marker, not a secret)


def _usable(user: User | None) -> bool:
    return user is not None and user.is_active and not user.must_change_password


async def _user_of_api_token(session: AsyncSession, api_token: str) -> User | None:
    """The user of an API token that is neither revoked nor expired."""
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(api_token)))
    if row and row.revoked_at is None and (row.expires_at is None or row.expires_at > utcnow()):
        return await session.get(User, row.user_id)
    return None


async def _authenticate(
    ctx: AppContext, environ: dict[str, Any], auth: Any
) -> SocketPrincipal | None:
    # Read as every HTTP request reads it (`request.cookies`): `http.cookies` gives up at
    # the first cookie it finds malformed, and another app on the same host sets those.
    session_token = cookie_parser(environ.get("HTTP_COOKIE", "")).get(SESSION_COOKIE)
    api_token = auth.get("token") if isinstance(auth, dict) else None
    async with session_scope(ctx.session_factory) as session:
        if session_token:
            found = await session_store.resolve_session(
                session,
                token=session_token,
                settings=ctx.settings,
                cache=session_cache_of(ctx),
            )
            user = found[1] if found else None
            credential = hash_token(session_token)
        elif isinstance(api_token, str) and api_token:
            credential = _TOKEN + hash_token(api_token)
            user = await _user_of_api_token(session, api_token)
        else:
            return None
        if user is None or not _usable(user):
            return None
        return SocketPrincipal(user_id=str(user.id), credential=credential, is_admin=user.is_admin)


async def _alive_credentials(
    session: AsyncSession,
    *,
    settings: Settings,
    session_hashes: list[str],
    token_hashes: list[str],
) -> dict[str, bool]:
    """Credential -> its user is an admin, for the sessions and tokens that still stand
    (not ended, idle too long, revoked or expired: the rule a request's session meets)
    and whose user may still connect."""
    now = utcnow()
    alive: dict[str, bool] = {}
    if session_hashes:
        rows = await session.execute(
            select(AuthSession.id, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.id.in_(session_hashes), session_store.live_sessions(now, settings))
        )
        alive |= {session_id: user.is_admin for session_id, user in rows.tuples() if _usable(user)}
    if token_hashes:
        rows = await session.execute(
            select(ApiToken.token_hash, User)
            .join(User, User.id == ApiToken.user_id)
            .where(
                ApiToken.token_hash.in_(token_hashes),
                ApiToken.revoked_at.is_(None),
                or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
            )
        )
        alive |= {
            _TOKEN + token_hash: user.is_admin
            for token_hash, user in rows.tuples()
            if _usable(user)
        }
    return alive


async def _still_allowed(
    ctx: AppContext, principals: list[SocketPrincipal]
) -> set[SocketPrincipal]:
    """Those whose session or token still stands, whose user may still connect and
    still has the role the socket came in with (a demoted admin leaves the admins' room
    by being disconnected; the page reconnects with the new role)."""
    session_hashes = [p.credential for p in principals if not p.credential.startswith(_TOKEN)]
    token_hashes = [
        p.credential[len(_TOKEN) :] for p in principals if p.credential.startswith(_TOKEN)
    ]
    async with session_scope(ctx.session_factory) as session:
        alive = await _alive_credentials(
            session,
            settings=ctx.settings,
            session_hashes=session_hashes,
            token_hashes=token_hashes,
        )
    return {p for p in principals if p.credential in alive and alive[p.credential] == p.is_admin}


def install_socket_authenticator(ctx: AppContext) -> None:
    ctx.realtime.authenticator = functools.partial(_authenticate, ctx)
    ctx.realtime.revalidator = functools.partial(_still_allowed, ctx)
    # Every committed change to users, sessions or tokens (here, or relayed from another
    # instance through Redis) re-checks the sockets it may concern.
    session_cache_for(ctx).on_invalidate(ctx.realtime.recheck)


async def start_socket_recheck(ctx: AppContext) -> Callable[[], Awaitable[None]]:
    """Re-check this instance's sockets every `socket_recheck_seconds`: a session that
    reaches its idle limit or its lifetime changes no row, so no change would. Only
    requests keep a session in use (they touch it); socket traffic does not."""

    async def recheck_forever() -> None:
        while True:
            await asyncio.sleep(ctx.settings.socket_recheck_seconds)
            ctx.realtime.recheck({ALL})  # no socket open: no query

    task = asyncio.get_running_loop().create_task(recheck_forever(), name="socket-expiry")

    async def stop() -> None:
        await stop_loop(task)

    return stop
