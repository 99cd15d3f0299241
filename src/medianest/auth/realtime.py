"""Socket.IO handshake authentication: the same session cookie, or an API token in `auth`."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

from sqlalchemy import select

from medianest.auth import sessions as session_store
from medianest.auth.cookies import SESSION_COOKIE
from medianest.auth.models import ApiToken, User
from medianest.auth.session_cache import session_cache_of
from medianest.core.context import AppContext
from medianest.core.tokens import hash_token
from medianest.db.base import utcnow
from medianest.db.engine import session_scope


def install_socket_authenticator(ctx: AppContext) -> None:
    async def authenticate(environ: dict[str, Any], auth: Any) -> str | None:
        cookies = SimpleCookie()
        cookies.load(environ.get("HTTP_COOKIE", ""))
        session_token = cookies[SESSION_COOKIE].value if SESSION_COOKIE in cookies else None
        api_token = auth.get("token") if isinstance(auth, dict) else None
        async with session_scope(ctx.session_factory) as session:
            user: User | None = None
            if session_token:
                found = await session_store.resolve_session(
                    session,
                    token=session_token,
                    settings=ctx.settings,
                    cache=session_cache_of(ctx),
                )
                user = found[1] if found else None
            elif isinstance(api_token, str) and api_token:
                row = await session.scalar(
                    select(ApiToken).where(ApiToken.token_hash == hash_token(api_token))
                )
                if (
                    row
                    and row.revoked_at is None
                    and (row.expires_at is None or row.expires_at > utcnow())
                ):
                    user = await session.get(User, row.user_id)
            if user is None or not user.is_active or user.must_change_password:
                return None
            return str(user.id)

    ctx.realtime.authenticator = authenticate
