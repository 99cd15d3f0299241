"""Auth endpoints: password sign-in, password change, logout (here or on the other
devices) and the current session.

The Plex PIN endpoints live in `auth/plex_sign_in/router.py`.
"""

from __future__ import annotations

from fastapi import Request, Response

from medianest.auth import service as auth_service
from medianest.auth.cookies import (
    SESSION_COOKIE,
    clear_auth_cookies,
    client_ip,
    set_csrf_cookie,
)
from medianest.auth.dependencies import (
    PasswordChangeIdentity,
    SignInAdmission,
    ThisBrowserDep,
)
from medianest.auth.schemas import (
    AdminLogin,
    ChangePassword,
    OthersSignedOut,
    SessionOut,
    UserOut,
)
from medianest.auth.sessions import remember
from medianest.auth.sessions import store as session_store
from medianest.auth.signin import complete_sign_in, rotate_session
from medianest.context import ContextDep, context_of
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import ERROR_RESPONSES, Envelope, envelope
from medianest.core.errors import Unauthenticated
from medianest.platform import audit

router = api_router(prefix="/api/auth", tags=["auth"], responses=ERROR_RESPONSES)


# A flood beyond what the password checks can take is refused first (503 SERVICE_BUSY).
@router.post("/admin", response_model=Envelope[SessionOut], dependencies=[SignInAdmission])
async def admin_login(
    body: AdminLogin, request: Request, response: Response, session: SessionDep, ctx: ContextDep
) -> Envelope[SessionOut]:
    """Sign in with a username and password (the bootstrap admin, or any user given one)."""
    ip = client_ip(request, ctx.settings)
    await auth_service.count_password_attempt(
        ctx.rate_limiter, ctx.settings, username=body.username, ip=ip
    )
    try:
        user = await auth_service.authenticate_admin(
            session,
            username=body.username,
            password=body.password,
            host=request.headers.get("host"),
            settings=ctx.settings,
        )
    except Unauthenticated as refused:
        audit.record(
            session, action="auth.login_failed", actor_id=None, target=body.username, ip=ip
        )
        refused.keeps_writes = True  # the failed attempt stays in the audit log
        raise
    out = await complete_sign_in(
        request, response, session, ctx, user=user, remember_me=body.remember_me, method="password"
    )
    return envelope(out)


@router.post("/change-password", response_model=Envelope[SessionOut])
async def change_password(
    body: ChangePassword,
    request: Request,
    response: Response,
    identity: PasswordChangeIdentity,
    session: SessionDep,
    ctx: ContextDep,
) -> Envelope[SessionOut]:
    """Change the password (required after the first admin/admin sign-in); ends the other
    sessions and revokes remember-me and personal API tokens."""
    user = identity.user
    if body.current_password is not None:
        await auth_service.count_password_attempt(
            ctx.rate_limiter,
            ctx.settings,
            username=user.username,
            ip=client_ip(request, ctx.settings),
        )
    await auth_service.change_password(
        session, user=user, current_password=body.current_password, new_password=body.new_password
    )
    audit.record(session, action="auth.password_changed", actor_id=user.id, target=str(user.id))
    await rotate_session(request, response, session, ctx, identity=identity)
    return envelope(
        SessionOut(
            user=UserOut.model_validate(user),
            password_change_required=False,
            csrf_token=set_csrf_cookie(response, request, ctx.settings, fresh=True),
        )
    )


@router.post("/logout", response_model=Envelope[dict[str, bool]])
async def logout(
    request: Request,
    response: Response,
    identity: PasswordChangeIdentity,
    session: SessionDep,
    ctx: ContextDep,
) -> Envelope[dict[str, bool]]:
    """End this session (and forget this browser's remember-me token)."""
    # The cookie's session, and the one remember-me made for this very request when the
    # cookie's had lapsed (its cookie, set in this answer, is cleared below).
    for token in {request.cookies.get(SESSION_COOKIE), identity.session_token}:
        if token:
            await session_store.destroy_session(session, token=token)
    await remember.forget_remember_token(request, session)
    audit.record(
        session,
        action="auth.logout",
        actor_id=identity.user.id,
        ip=client_ip(request, ctx.settings),
    )
    clear_auth_cookies(response)
    return envelope({"signedOut": True})


@router.post("/logout-others", response_model=Envelope[OthersSignedOut])
async def logout_others(this: ThisBrowserDep, session: SessionDep) -> Envelope[OthersSignedOut]:
    """Sign out of every other device: the user's other sessions and remember-me tokens
    end, this session stays; personal API tokens are not touched. A session only."""
    ended = await auth_service.end_other_sign_ins(session, this)
    return envelope(OthersSignedOut(sessions_ended=ended))


@router.get("/session", response_model=Envelope[SessionOut])
async def current_session(
    request: Request, response: Response, identity: PasswordChangeIdentity
) -> Envelope[SessionOut]:
    """The signed-in user, the role, and whether a password change is required."""
    ctx = context_of(request)  # not a dependency: asked for by every page's script
    user = identity.user
    return envelope(
        SessionOut(
            user=UserOut(
                **UserOut.model_validate(user).model_dump(exclude={"plex_linked"}),
                plex_linked=user.plex_token is not None,
            ),
            password_change_required=user.must_change_password,
            csrf_token=set_csrf_cookie(response, request, ctx.settings),
        )
    )
