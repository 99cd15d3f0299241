"""Who may sign in with Plex: by default only the server's people — its owner and the
accounts it is shared with, friends and Plex Home members alike (plex.tv's `/api/users`,
asked with the owner's token; a Home member without a share is not in) — plus an
admin-kept list of extra usernames; or, when the admin opens it, any Plex account
(`MEDIANEST_PLEX_SIGNIN` / `plexSignIn`).

The audience (`audience.py`) is cached for `plex_audience_refresh_seconds` under the Plex
server's configuration (`Integrations.fingerprint`: another server or token is another
audience), asked again on demand when someone not on it signs in (at most every few
seconds), and refreshed on a schedule by `start_audience_sweep`, which also ends the
sessions of Plex users who lost access and follows share changes from the same read
(`sweep_round`), and runs at once when the admin changes the Plex server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth import service as auth_service
from medianest.auth.exceptions import PlexServerAccessRequired
from medianest.auth.models import ApiToken, AuthSession, SessionToken, User
from medianest.auth.plex_sign_in.audience import server_audience
from medianest.auth.plex_sign_in.share_changes import follow_share_changes
from medianest.context import AppContext
from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.core.loops import stop_loop
from medianest.db.engine import session_scope
from medianest.integrations.plex_models import PlexServerInfo
from medianest.integrations.plextv import ServerAudience
from medianest.platform import audit

log = get_logger(__name__)

SERVER_USERS = "server_users"
ANY_ACCOUNT = "any_account"
# Someone not on the cached list may have just been invited: ask plex.tv again, but
# not more often than this (strangers retrying must not hammer plex.tv).
ON_DEMAND_REFRESH_SECONDS = 10.0


@dataclass(frozen=True)
class SignInPolicy:
    mode: str
    extra_usernames: frozenset[str]

    @classmethod
    def of(cls, ctx: AppContext) -> SignInPolicy:
        limits = ctx.limits
        return cls(
            limits.plex_sign_in,
            frozenset(u.casefold() for u in limits.plex_sign_in_extra_usernames),
        )


async def server_identity(ctx: AppContext) -> PlexServerInfo | None:
    """The Plex server's name and owner for the refusal page; None when it cannot be asked."""
    try:
        plex = await ctx.integrations.plex()
        return await plex.server_info() if plex is not None else None
    except MediaNestError:
        return None


async def admits(ctx: AppContext, *, account_id: int, username: str) -> bool:
    """May this Plex account use MediaNest under the current policy?"""
    policy = SignInPolicy.of(ctx)
    if policy.mode == ANY_ACCOUNT or username.casefold() in policy.extra_usernames:
        return True
    audience = await server_audience(ctx, max_age=ctx.settings.plex_audience_refresh_seconds)
    if audience.includes(account_id):
        return True
    fresh = await server_audience(ctx, max_age=ON_DEMAND_REFRESH_SECONDS)
    return fresh.includes(account_id)


async def require_admitted(ctx: AppContext, *, account_id: int, username: str) -> None:
    if not await admits(ctx, account_id=account_id, username=username):
        log.info("plex_signin_refused", reason="not_a_server_user", plex_id=account_id)
        raise PlexServerAccessRequired(details={"reason": "not_a_server_user"})


async def end_access(session: AsyncSession, *, user: User, reason: str) -> None:
    """Sign a Plex user out everywhere (sessions, remember-me and API tokens) and audit why."""
    await auth_service.end_every_sign_in(session, user=user)
    audit.record(
        session,
        action="auth.plex_access_removed",
        actor_id=None,
        target=str(user.id),
        details={"reason": reason},
    )


async def _can_sign_in_again(session: AsyncSession, user: User) -> bool:
    """Whether the user holds a session or an unrevoked remember-me token."""
    has_session = await session.scalar(
        select(AuthSession.id).where(AuthSession.user_id == user.id).limit(1)
    )
    if has_session is not None:
        return True
    remembered = await session.scalar(
        select(SessionToken.id)
        .where(SessionToken.user_id == user.id, SessionToken.revoked_at.is_(None))
        .limit(1)
    )
    if remembered is not None:
        return True
    api_token = await session.scalar(
        select(ApiToken.id)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .limit(1)
    )
    return api_token is not None


async def sweep_removed_users(ctx: AppContext, *, audience: ServerAudience | None = None) -> int:
    """Sign out Plex users no longer on the audience (the round's, or asked of plex.tv
    now); returns how many."""
    policy = SignInPolicy.of(ctx)
    if policy.mode == ANY_ACCOUNT:
        return 0
    if audience is None:
        audience = await server_audience(ctx, max_age=0)
    ended = 0
    async with session_scope(ctx.session_factory) as session:
        users = await session.scalars(select(User).where(User.plex_id.is_not(None)))
        for user in users:
            if user.username.casefold() in policy.extra_usernames:
                continue
            if user.plex_id is None or not user.plex_id.isdigit():
                continue
            if audience.includes(int(user.plex_id)):
                continue
            if await _can_sign_in_again(session, user):
                await end_access(session, user=user, reason="not_a_server_user")
                ended += 1
    if ended:
        log.info("plex_access_sweep_signed_out", users=ended)
    return ended


async def sweep_round(ctx: AppContext) -> None:
    """One round of the audience sweep: plex.tv's `/api/users` is read once (and kept as
    the cached audience), and that answer serves both steps — who lost access, and each
    account's restrictions for the share changes. plex.tv or Plex failing to answer skips
    the round; a step failing does not skip the other."""
    try:
        audience = await server_audience(ctx, max_age=0)
    except MediaNestError as exc:
        log.warning("plex_access_sweep_skipped", step="server_audience", error=exc.code)
        return
    for step in (sweep_removed_users, follow_share_changes):
        try:
            await step(ctx, audience=audience)
        except MediaNestError as exc:
            log.warning("plex_access_sweep_skipped", step=step.__name__, error=exc.code)
        except Exception as exc:  # a database hiccup must not end the loop
            log.warning("plex_access_sweep_failed", error=type(exc).__name__)


async def start_audience_sweep(ctx: AppContext) -> Callable[[], Awaitable[None]]:
    """Every `plex_audience_refresh_seconds`, and at once when the Plex server's
    configuration changes: refresh who the server is for, end the sessions of those who
    lost access, and drop shared users' kept Plex answers when the shares changed
    (`share_changes.py`). plex.tv or Plex being down (or refusing a new token)
    skips a round."""
    plex_changed = asyncio.Event()

    def heard(services: frozenset[str]) -> None:
        if "plex" in services:
            plex_changed.set()

    stop_listening = ctx.integrations.on_change(heard)

    async def sweep_forever() -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    plex_changed.wait(), timeout=ctx.settings.plex_audience_refresh_seconds
                )
            plex_changed.clear()
            try:
                await sweep_round(ctx)
            except Exception as exc:  # a database hiccup must not end the loop
                log.warning("plex_access_sweep_failed", error=type(exc).__name__)

    task = asyncio.get_running_loop().create_task(sweep_forever())

    async def stop() -> None:
        stop_listening()
        await stop_loop(task)

    return stop
