"""Users, server-side sessions, remember-me tokens and personal API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import Base, CreatedAt, UUIDPrimaryKey


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


class UserStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class OverseerrLink(StrEnum):
    """Who chose `User.overseerr_user_id` (None: nobody yet, so it may be looked up)."""

    ADMIN = "admin"  # an admin's choice, "no link" included: never changed automatically
    AUTOMATIC = "automatic"  # the Overseerr user with the same Plex account id


class User(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "users"

    plex_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(150), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16), default=Role.USER)
    plex_token: Mapped[str | None] = mapped_column(Text)  # AES-256-GCM, see core.crypto
    plex_token_checked_at: Mapped[datetime | None]
    password_hash: Mapped[str | None] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=UserStatus.ACTIVE)
    last_login_at: Mapped[datetime | None]
    # Overseerr's id of the same person, set by an admin or found by Plex account id:
    # requests are made as them (Overseerr's requester, quota and notifications), else as
    # the API key's admin. `overseerr_link` says who chose it (media/overseerr_link.py).
    overseerr_user_id: Mapped[int | None]
    overseerr_link: Mapped[str | None] = mapped_column(String(16))

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_active(self) -> bool:
        return self.status == UserStatus.ACTIVE


class AuthSession(Base):
    """A signed-in browser or script; the cookie holds a random token, the row its hash."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie token
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_auth_sessions_user_id", "user_id"),)
    # Ending a session is idempotent: the requests of tabs restored at once each find it
    # expired and delete it, and all but the first delete nothing.
    __mapper_args__ = {"confirm_deleted_rows": False}


class SessionToken(UUIDPrimaryKey, CreatedAt, Base):
    """A remember-me token: one-time use, rotated on every use, grouped in a family."""

    __tablename__ = "session_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    # sha256 of the client (address + User-Agent) that used it: see auth/sessions/remember.py.
    used_by: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_session_tokens_user_id", "user_id"),
        Index("ix_session_tokens_family_id", "family_id"),
    )


class ApiToken(UUIDPrimaryKey, CreatedAt, Base):
    """A personal API token for scripts (`Authorization: Bearer ...`), stored hashed."""

    __tablename__ = "api_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)


class PlexPin(CreatedAt, Base):
    """A Plex sign-in in progress: the plex.tv PIN and which browser asked for it.

    In the database rather than the cache: a Redis outage (or a restart) between
    creating and approving the PIN must not lose the sign-in, and any instance may
    answer the browser's poll."""

    __tablename__ = "plex_pins"

    pin_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    binding_hash: Mapped[str] = mapped_column(String(64))
    remember_me: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_plex_pins_expires_at", "expires_at"),)
