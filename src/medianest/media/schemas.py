"""API shapes of media search and requests (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import field_validator

from medianest.core.envelope import ApiInput, ApiModel
from medianest.integrations.overseerr_models import OverseerrId

MediaType = Literal["movie", "tv"]
Availability = Literal["available", "requested", "requestable", "blocklisted"]
RequestStatusName = Literal[
    "pending", "approved", "declined", "processing", "available", "failed", "removed"
]
MAX_SEASONS = 100


class SearchResultOut(ApiModel):
    """One movie or show; who requested it is only ever "you" or "someone"."""

    tmdb_id: int
    media_type: MediaType
    title: str
    year: int | None
    poster_url: str | None
    overview: str | None
    availability: Availability
    requested_by: Literal["you", "someone"] | None = None
    partially_available: bool = False


class MediaRequestIn(ApiInput):
    media_type: MediaType
    tmdb_id: OverseerrId
    seasons: list[int] | Literal["all"] | None = None

    @field_validator("seasons")
    @classmethod
    def _valid_seasons(cls, value: list[int] | str | None) -> list[int] | str | None:
        if isinstance(value, list):
            if not value:
                raise ValueError("give at least one season, or 'all'")
            if len(value) > MAX_SEASONS or any(n < 1 or n > 1000 for n in value):
                raise ValueError("seasons are numbers from 1")
            return sorted(set(value))
        return value


class MediaRequestOut(ApiModel):
    id: uuid.UUID
    user_id: uuid.UUID
    title: str
    media_type: MediaType
    tmdb_id: int
    seasons: list[int] | None = None
    status: RequestStatusName
    overseerr_id: int | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None


class WebhookAck(ApiModel):
    """What the Overseerr webhook answers: how many of our requests it changed."""

    received: str
    updated: int
