"""Sign-in logic that does not involve Plex: the bootstrap admin and password changes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.bootstrap_host import refuse_bootstrap_password_from
from medianest.auth.models import Role, SessionToken, User, UserStatus
from medianest.auth.sessions import store as session_store
from medianest.auth.sessions.cache import write_user_at_commit
from medianest.auth.tokens import service as api_tokens
from medianest.core.errors import PermissionDenied, Unauthenticated, ValidationFailed
from medianest.core.logging import get_logger
from medianest.core.passwords import hash_password, password_problems, verify_password
from medianest.core.ratelimit import RateLimiter
from medianest.core.tokens import hash_token
from medianest.db.base import utcnow
from medianest.platform import audit
from medianest.settings import Settings

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ThisBrowser:
    """The signed-in browser asking: its user, its session, the remember-me cookie it sent
    and its address (`auth.dependencies.ThisBrowserDep` reads them from the request)."""

    user: User
    session_token: str
    remember_token: str | None
    ip: str | None


async def ensure_bootstrap_admin(session: AsyncSession, *, settings: Settings) -> User | None:
    """On an empty users table, create the admin who must change the password at first login."""
    existing = await session.scalar(select(func.count()).select_from(User))
    if existing:
        return None
    admin = User(
        username=settings.admin_username,
        role=Role.ADMIN,
        password_hash=await hash_password(settings.admin_password.get_secret_value()),
        must_change_password=True,
        status=UserStatus.ACTIVE,
    )
    session.add(admin)
    await session.flush()
    log.warning("bootstrap_admin_created", username=admin.username, must_change_password=True)
    return admin


async def bootstrap_sign_in_pending(session: AsyncSession, *, settings: Settings) -> bool:
    """True while nobody replaced the first password: no users yet, or the bootstrap admin
    still has to choose its own. `serve` then says how to sign in for the first time."""
    if not await session.scalar(select(func.count()).select_from(User)):
        return True
    admin = await session.scalar(select(User).where(User.username == settings.admin_username))
    return bool(admin is not None and admin.must_change_password and admin.password_hash)


async def count_password_attempt(
    limiter: RateLimiter, settings: Settings, *, username: str, ip: str | None
) -> None:
    """One password check against `username`'s throttle from `ip` (429 past it): a
    sign-in and a password change's current password share it, so a session cannot
    guess the password faster than the sign-in form can. Counted before the check, in
    one atomic step, so concurrent guesses cannot all pass a look taken before any was
    counted; the right password counts too (no refund a burst could race)."""
    attempt = await limiter.hit(
        f"login-attempts:{username.lower()}:{ip}",
        limit=settings.rate_limit_login_failures,
        window_seconds=settings.rate_limit_login_window_minutes * 60,
    )
    attempt.raise_if_exceeded("Too many sign-in attempts. Wait before trying again.")


async def authenticate_admin(
    session: AsyncSession, *, username: str, password: str, host: str | None, settings: Settings
) -> User:
    """Password login (bootstrap admin and any user given a password). Same error either
    way. The bootstrap password, still in force, only where `host` is no stranger's
    (`auth/bootstrap_host.py`): checked after the password, so a wrong one learns nothing."""
    user = await session.scalar(
        select(User).where(User.username == username, User.password_hash.is_not(None)).limit(1)
    )
    valid, new_hash = await verify_password(password, user.password_hash if user else None)
    if user is None or not valid:
        raise Unauthenticated(
            "Wrong username or password.", details={"reason": "invalid_credentials"}
        )
    if user.must_change_password and user.username == settings.admin_username:
        refuse_bootstrap_password_from(host, settings.public_url)
    if user.status != UserStatus.ACTIVE:
        raise PermissionDenied("This account is disabled.", details={"reason": "disabled"})
    if new_hash:
        # Bookkeeping (the same password, hashed anew): no error if an admin deleted the
        # user during the check; the sign-in then ends as signed out. (The sign-in time
        # is written by `complete_sign_in`, which follows.)
        write_user_at_commit(session, user, password_hash=new_hash)
    return user


async def change_password(
    session: AsyncSession, *, user: User, current_password: str | None, new_password: str
) -> None:
    """Set a new password. The current one is asked for, except in the forced change right
    after sign-in: that session proved the password moments ago and can do nothing else."""
    if current_password is None and not user.must_change_password:
        raise ValidationFailed(
            "Enter your current password.",
            details={"fields": [{"field": "currentPassword", "message": "Required."}]},
        )
    if current_password is not None:
        # Without a password (a Plex sign-in) no current one can be right: said at once, as
        # the caller is that user, with nothing a timed dummy check would hide.
        valid = (
            user.password_hash is not None
            and (await verify_password(current_password, user.password_hash))[0]
        )
        if not valid:
            raise ValidationFailed(
                "The current password is wrong.",
                details={"fields": [{"field": "currentPassword", "message": "Is wrong."}]},
            )
    problems = password_problems(new_password, username=user.username)
    if not problems:
        unchanged = new_password == current_password or (
            current_password is None
            and user.password_hash is not None
            and (await verify_password(new_password, user.password_hash))[0]
        )
        if unchanged:
            problems.append("Choose a password different from the current one.")
    if problems:
        raise ValidationFailed(
            "Choose another new password.",
            details={"fields": [{"field": "newPassword", "message": p} for p in problems]},
        )
    user.password_hash = await hash_password(new_password)
    user.must_change_password = False
    # A new password ends every credential the old one could have minted: remember-me
    # cookies and personal API tokens (a script's token leaked with the password is dead).
    await revoke_remember_tokens(session, user=user)
    await api_tokens.revoke_all_tokens(session, user_id=user.id)


async def revoke_remember_tokens(
    session: AsyncSession, *, user: User, keep_family: uuid.UUID | None = None
) -> None:
    """Revoke the user's remember-me tokens (but those of `keep_family`)."""
    now = utcnow()
    # One UPDATE rather than changed objects: a token the purge deletes meanwhile (an
    # expired one) is then not written, where the ORM's flush would fail the commit.
    statement = update(SessionToken).where(
        SessionToken.user_id == user.id, SessionToken.revoked_at.is_(None)
    )
    if keep_family is not None:
        statement = statement.where(SessionToken.family_id != keep_family)
    await session.execute(statement.values(revoked_at=now))
    # With the one this request issued and has not written yet (a remember-me restore
    # rotates one before the endpoint runs; sessions do not autoflush): no query sees it.
    for token in session.new:
        if (
            isinstance(token, SessionToken)
            and token.user_id == user.id
            and token.family_id != keep_family
        ):
            token.revoked_at = now


async def end_every_sign_in(session: AsyncSession, *, user: User) -> None:
    """Sign `user` out everywhere: sessions, remember-me and personal API tokens (a token
    made with a sign-in that is no longer good must not outlive it)."""
    await session_store.destroy_user_sessions(session, user_id=user.id)
    await revoke_remember_tokens(session, user=user)
    await api_tokens.revoke_all_tokens(session, user_id=user.id)


async def end_other_sign_ins(session: AsyncSession, this: ThisBrowser) -> int:
    """Sign the user out of every other device: their other sessions end and the other
    remember-me tokens are revoked; how many sessions ended. This browser's session stays,
    and so does its remember-me family (`this.remember_token`, the cookie sent):
    that browser is the one asking, and losing it would sign it out when the session
    lapses. A copy of that cookie on another device is still caught as reuse. Personal
    API tokens stay too: they are listed and revoked on their own."""
    user = this.user
    ended = await session_store.destroy_user_sessions(
        session, user_id=user.id, keep_token=this.session_token
    )
    kept_family = None
    if this.remember_token:
        kept_family = await session.scalar(
            select(SessionToken.family_id).where(
                SessionToken.token_hash == hash_token(this.remember_token),
                SessionToken.user_id == user.id,
            )
        )
    await revoke_remember_tokens(session, user=user, keep_family=kept_family)
    audit.record(
        session,
        action="auth.logout_others",
        actor_id=user.id,
        target=str(user.id),
        details={"sessionsEnded": ended},
        ip=this.ip,
    )
    return ended
