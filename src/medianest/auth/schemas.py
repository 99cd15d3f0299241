"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from medianest.core.envelope import ApiInput, ApiModel


class AdminLogin(ApiInput):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)
    remember_me: bool = False


class ChangePassword(ApiInput):
    # Optional only for the forced change right after sign-in (the password was just typed).
    current_password: str | None = Field(default=None, min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class UserOut(ApiModel):
    id: uuid.UUID
    username: str
    email: str | None
    role: str
    status: str
    plex_linked: bool = False
    must_change_password: bool
    created_at: datetime
    last_login_at: datetime | None


class SessionOut(ApiModel):
    user: UserOut
    password_change_required: bool
    csrf_token: str | None = None


class OthersSignedOut(ApiModel):
    sessions_ended: int
