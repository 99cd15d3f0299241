"""A new browser session: the session row, its cookie and a fresh CSRF cookie. The one
way every sign-in (password, Plex, remember-me) issues one."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.cookies import client_ip, set_csrf_cookie, set_session_cookie
from medianest.auth.models import User
from medianest.auth.sessions import store as session_store
from medianest.context import AppContext


async def open_browser_session(
    request: Request, response: Response, session: AsyncSession, ctx: AppContext, *, user: User
) -> tuple[str, str]:
    """A new session row for this browser, its cookie and the CSRF cookie; returns the
    session token and the CSRF token. The one way every sign-in (password, Plex,
    remember-me) issues a browser session."""
    issued = await session_store.create_session(
        session,
        user=user,
        settings=ctx.settings,
        ip=client_ip(request, ctx.settings),
        user_agent=request.headers.get("user-agent"),
    )
    set_session_cookie(response, request, ctx.settings, issued.token)
    # A fresh CSRF token: one planted before sign-in must not outlive it.
    return issued.token, set_csrf_cookie(response, request, ctx.settings, fresh=True)
