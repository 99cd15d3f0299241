"""Is a signed-in Plex user's token still good, and are they still one of the server's
people? Checked on use (a session or a personal API token), at most every
`plex_token_check_minutes`: a revoked token or a removed share signs the user out
everywhere (sessions, remember-me and API tokens); plex.tv being unreachable keeps
the session (an outage must not lock the household out)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth import service as auth_service
from medianest.auth.cookies import client_ip
from medianest.auth.models import User
from medianest.auth.plex_sign_in import access as plex_access
from medianest.auth.plex_sign_in import service as plex_service
from medianest.auth.sessions.cache import write_user_at_commit
from medianest.context import AppContext
from medianest.core.crypto import DecryptionError
from medianest.core.errors import ServiceUnavailable, Unauthenticated, UpstreamError
from medianest.core.logging import get_logger
from medianest.db.base import utcnow
from medianest.integrations.plextv import PlexTokenRejected
from medianest.platform import audit

log = get_logger(__name__)

# After plex.tv could not be asked, wait this long before asking again for that user.
RETRY_AFTER_OUTAGE_SECONDS = 60.0
_DEFERRED_KEY = "plex-token-check-deferred:{}"


async def revalidate_plex_token(
    request: Request, session: AsyncSession, ctx: AppContext, user: User
) -> None:
    if not plex_service.token_check_due(user, check_minutes=ctx.settings.plex_token_check_minutes):
        return
    deferred_key = _DEFERRED_KEY.format(user.id)
    if await ctx.cache.get(deferred_key) is not None:
        return
    assert user.plex_token is not None  # token_check_due is False without one
    try:
        token = ctx.secret_box.decrypt(user.plex_token, context=plex_service.PLEX_TOKEN_CONTEXT)
        account = await plex_service.plextv_client(ctx).get_account(token, check=True)
        admitted = await plex_access.admits(ctx, account_id=account.id, username=account.username)
    except PlexTokenRejected:
        await _sign_out_everywhere(
            request,
            session,
            ctx,
            user,
            reason="plex_token_revoked",
            message="Plex no longer accepts your sign-in. Sign in with Plex again.",
        )
    except (ServiceUnavailable, UpstreamError, DecryptionError) as exc:
        log.warning("plex_token_check_skipped", user_id=str(user.id), error=type(exc).__name__)
        await ctx.cache.set(deferred_key, {"at": utcnow().isoformat()}, RETRY_AFTER_OUTAGE_SECONDS)
        return
    if not admitted:
        await _sign_out_everywhere(
            request,
            session,
            ctx,
            user,
            reason="plex_server_access_removed",
            message="This Plex server is no longer shared with you, so your MediaNest "
            "sign-in ended. Ask the server's owner if this is a mistake.",
        )
    # Bookkeeping: no error if an admin deleted the user while plex.tv answered.
    write_user_at_commit(session, user, plex_token_checked_at=utcnow())


async def _sign_out_everywhere(
    request: Request,
    session: AsyncSession,
    ctx: AppContext,
    user: User,
    *,
    reason: str,
    message: str,
) -> None:
    """Committed before raising: the request's unit of work is rolled back on errors."""
    await auth_service.end_every_sign_in(session, user=user)
    # A user deleted meanwhile has no token left to forget: no error then.
    write_user_at_commit(session, user, plex_token=None, plex_token_checked_at=utcnow())
    audit.record(
        session,
        action="auth.plex_token_revoked"
        if reason == "plex_token_revoked"
        else "auth.plex_access_removed",
        actor_id=user.id,
        target=str(user.id),
        details={"reason": reason},
        ip=client_ip(request, ctx.settings),
    )
    log.info("plex_user_signed_out", user_id=str(user.id), reason=reason)
    # The sign-out and its audit entry stay, although the request is refused.
    raise Unauthenticated(message, details={"reason": reason}, keeps_writes=True)
