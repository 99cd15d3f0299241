"""Who a request is: the one place that decides, from a bearer token, a session cookie
or a remember-me cookie. The FastAPI dependencies (`auth.dependencies`), and through
them every route and page, ask here."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from fastapi import Request, Response
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.cookies import SESSION_COOKIE
from medianest.auth.models import ApiToken, AuthSession, User
from medianest.auth.plex_sign_in import revalidation as plex_revalidation
from medianest.auth.plex_sign_in import service as plex_service
from medianest.auth.sessions import remember
from medianest.auth.sessions import store as session_store
from medianest.auth.sessions.cache import attach_user, readable_user, session_cache_of
from medianest.context import AppContext
from medianest.core.deps import Subject
from medianest.core.errors import Unauthenticated
from medianest.core.tokens import hash_token
from medianest.db.base import utcnow
from medianest.db.engine import LazySession, write_at_commit


@dataclass
class Identity:
    user: User
    via: Literal["session", "token"]
    auth_session: AuthSession | None = None
    session_token: str | None = None


# The request's identity once decided (None: anonymous), in the ASGI scope: the scope's
# dict rather than `request.state`, whose look-up of a name not set raises and formats an
# AttributeError (on every request the sign-in dependencies ask before deciding).
_DECIDED_IDENTITY = "medianest.identity"
# The identity found while its rarer checks run (disabled, Plex re-check due), in the scope.
_CHECKED_IDENTITY = "medianest.checked_identity"


def decided_identity(request: Request) -> tuple[bool, Identity | None]:
    """(whether this request's identity is decided, the identity)."""
    scope = request.scope
    return (True, scope[_DECIDED_IDENTITY]) if _DECIDED_IDENTITY in scope else (False, None)


def decide_identity(request: Request, identity: Identity | None) -> None:
    request.scope[_DECIDED_IDENTITY] = identity


def subject_of(request: Request) -> Subject | None:
    """The user a request acts for, asked only when its writes failed (installed with
    `core.deps.install_subject_of`): if an admin deleted them meanwhile (a changed row of
    theirs gone, a new one pointing at it), the request answers as signed out, 401, not
    500, whatever the route did. The decided identity, or the one being checked (a Plex
    re-check's sign-out is kept although refused, and its commit finds the user gone)."""
    scope = request.scope
    identity: Identity | None = scope.get(_DECIDED_IDENTITY) or scope.get(_CHECKED_IDENTITY)
    if identity is None:
        return None
    # The key the row was loaded with: the rollback before this expired its attributes,
    # and reading `id` would load it again (no I/O allowed here).
    key = inspect(identity.user).identity or (identity.user.id,)
    return Subject(User, key, Unauthenticated)


async def _identity_from_bearer(session: AsyncSession, token: str) -> Identity | None:
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
        return None
    user = await session.get(User, row.user_id)
    if user is None:
        return None
    # At commit, and no error if the token's user was deleted meanwhile.
    write_at_commit(session, row, last_used_at=now)
    return Identity(user=user, via="token")


def _identity_from_memory(request: Request, db: LazySession, ctx: AppContext) -> Identity | None:
    """The caller of a cookie session the session cache holds, without the database.

    The user is this request's own object, joined to the request's database session if
    one is made (then changed and saved as any loaded row)."""
    cache = session_cache_of(ctx)
    token = request.cookies.get(SESSION_COOKIE) if cache is not None else None
    values = cache.get(_token_hash(token)) if cache is not None and token else None
    if values is None:
        return None
    identity = Identity(user=readable_user(values), via="session", session_token=token)

    def join(session: AsyncSession) -> None:
        identity.user = attach_user(session.sync_session, identity.user)

    db.on_open(join)
    return identity


@functools.lru_cache(maxsize=4096)
def _token_hash(token: str) -> str:
    """Cached by token: a browser or poller sends the same one on every request, and
    hashing it again was a noticeable part of a cached answer (the process holds these
    tokens while it serves them anyway; only the last 4,096 are kept)."""
    return hash_token(token)


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
    restored = await remember.restore_from_remember_token(
        request,
        response,
        session,
        ctx,
        # Before the restore's first write: plex.tv is not awaited under the write lock.
        before_claim=functools.partial(
            plex_revalidation.revalidate_plex_token, request, session, ctx
        ),
    )
    if restored is None:
        return None
    user, token = restored
    return Identity(user=user, via="session", auth_session=None, session_token=token)


async def identify(
    request: Request, response: Response, db: LazySession, ctx: AppContext
) -> Identity | None:
    """The caller, or None when anonymous. A revoked or unknown bearer token is refused;
    a disabled user's sessions end; a Plex user's token is re-checked when due.

    A cookie session the session cache holds is answered from memory, and the database
    session is made only if something needs it; bearer tokens, remember-me and sessions
    not cached (unknown, expired, due their touch) read the database."""
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        identity = await _identity_from_bearer(db.session(), authorization[7:].strip())
        if identity is None:
            raise Unauthenticated("The API token is invalid or revoked.")
    else:
        identity = _identity_from_memory(request, db, ctx) or await _identity_from_cookies(
            request, response, db.session(), ctx
        )
    if identity is None:
        return None
    # A Plex user's token is re-checked now and then (cheap: usually no plex.tv call),
    # whichever credential is used: a script's token ends with the Plex sign-in too.
    if not identity.user.is_active or plex_service.token_check_due(
        identity.user, check_minutes=ctx.settings.plex_token_check_minutes
    ):
        return await _checked(request, db, ctx, identity)
    return identity


async def _checked(
    request: Request, db: LazySession, ctx: AppContext, identity: Identity
) -> Identity | None:
    """A disabled user's sessions end (None: anonymous); a Plex user's token is re-checked."""
    request.scope[_CHECKED_IDENTITY] = identity  # the subject meanwhile (`subject_of`)
    if not identity.user.is_active:
        await session_store.destroy_user_sessions(db.session(), user_id=identity.user.id)
        return None
    await plex_revalidation.revalidate_plex_token(request, db.session(), ctx, identity.user)
    return identity
