"""What every successful sign-in does, whatever the method: a fresh session id,
cookies, an optional remember-me token, an audit row."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.cookies import (
    SESSION_COOKIE,
    client_ip,
    set_session_cookie,
)
from medianest.auth.identity import Identity, decide_identity
from medianest.auth.models import User
from medianest.auth.schemas import SessionOut, UserOut
from medianest.auth.sessions import remember
from medianest.auth.sessions import store as session_store
from medianest.auth.sessions.browser import open_browser_session
from medianest.auth.sessions.cache import write_user_at_commit
from medianest.context import AppContext
from medianest.db.base import utcnow
from medianest.platform import audit


async def complete_sign_in(
    request: Request,
    response: Response,
    session: AsyncSession,
    ctx: AppContext,
    *,
    user: User,
    remember_me: bool,
    method: str,
) -> SessionOut:
    # Rotate: a session id that existed before sign-in is never reused (fixation).
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await session_store.destroy_session(session, token=old)
    ip = client_ip(request, ctx.settings)
    token, csrf = await open_browser_session(request, response, session, ctx, user=user)
    if remember_me:
        await remember.issue_remember_token(request, response, session, ctx, user)
    write_user_at_commit(session, user, last_login_at=utcnow())  # no error if deleted meanwhile
    audit.record(session, action="auth.login", actor_id=user.id, details={"method": method}, ip=ip)
    # The session made above for a user deleted meanwhile fails the commit: a 401
    # (`identity.subject_of`, the decided identity's user).
    decide_identity(
        request, Identity(user=user, via="session", auth_session=None, session_token=token)
    )
    return SessionOut(
        user=UserOut(
            **UserOut.model_validate(user).model_dump(exclude={"plex_linked"}),
            plex_linked=user.plex_token is not None,
        ),
        password_change_required=user.must_change_password,
        csrf_token=csrf,
    )


async def rotate_session(
    request: Request,
    response: Response,
    session: AsyncSession,
    ctx: AppContext,
    *,
    identity: Identity,
) -> None:
    """New session id for this browser, and every other session of the user ended."""
    await session_store.destroy_user_sessions(session, user_id=identity.user.id)
    if identity.via == "session":
        issued = await session_store.create_session(
            session,
            user=identity.user,
            settings=ctx.settings,
            ip=client_ip(request, ctx.settings),
            user_agent=request.headers.get("user-agent"),
        )
        set_session_cookie(response, request, ctx.settings, issued.token)
