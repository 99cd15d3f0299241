"""What the token API and the account page's form read and answer: one input schema, so
both refuse the same names and expiries the same way (web/forms.py `form_input`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from medianest.core.envelope import ApiInput, ApiModel

NAME_MAX_LENGTH = 100
EXPIRES_MAX_DAYS = 3650


class CreateApiToken(ApiInput):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    expires_in_days: int | None = Field(default=None, ge=1, le=EXPIRES_MAX_DAYS)


class ApiTokenOut(ApiModel):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class CreatedApiTokenOut(ApiTokenOut):
    token: str = Field(description="The token itself; shown only in this answer.")
