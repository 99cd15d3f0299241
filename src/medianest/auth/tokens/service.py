"""Personal API tokens: created for a user, shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import ApiToken, User
from medianest.core.errors import Conflict, NotFound
from medianest.core.tokens import hash_token, new_token
from medianest.db.base import utcnow
from medianest.platform import audit

TOKEN_PREFIX = "mn_"  # noqa: S105  (a marker, not a secret)
# Enough for any household's scripts; stops a runaway script from filling the table.
MAX_TOKENS_PER_USER = 50


async def list_tokens(session: AsyncSession, *, user: User) -> list[ApiToken]:
    rows = await session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    )
    return list(rows)


async def create_token(
    session: AsyncSession, *, user: User, name: str, expires_in_days: int | None
) -> tuple[ApiToken, str]:
    """A new token for `user`, audited; returns the row and the plaintext (never stored).
    The one action behind POST /api/auth/tokens and the account page's form."""
    active = await session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    if (active or 0) >= MAX_TOKENS_PER_USER:
        raise Conflict(
            f"At most {MAX_TOKENS_PER_USER} API tokens per user; revoke one first.",
            details={"limit": MAX_TOKENS_PER_USER},
        )
    plaintext = TOKEN_PREFIX + new_token(32)
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=hash_token(plaintext),
        prefix=plaintext[: len(TOKEN_PREFIX) + 6],
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(row)
    await session.flush()
    audit.record(session, action="auth.api_token_created", actor_id=user.id, target=str(row.id))
    return row, plaintext


async def owned_token(session: AsyncSession, *, user: User, token_id: uuid.UUID) -> ApiToken:
    """The caller's live token; another user's (or a revoked one) is simply not found."""
    row = await session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        raise NotFound("No such API token.")
    return row


async def revoke_token(session: AsyncSession, *, token: ApiToken) -> None:
    token.revoked_at = utcnow()


async def revoke_users_token(session: AsyncSession, *, user: User, token_id: uuid.UUID) -> None:
    """The caller revokes one of their tokens (another user's is a 404), audited."""
    row = await owned_token(session, user=user, token_id=token_id)
    await revoke_token(session, token=row)
    audit.record(session, action="auth.api_token_revoked", actor_id=user.id, target=str(row.id))


async def revoke_all_tokens(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    rows = await session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    )
    now = utcnow()
    for row in rows:
        row.revoked_at = now
