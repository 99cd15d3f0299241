"""Request and response bodies of the admin service-configuration and system-config API.

Output schemas never carry an API key or password: only whether one is set
(`apiKeySet`, `passwordSet`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from medianest.core.envelope import ApiInput, ApiModel
from medianest.integrations import overseerr_models
from medianest.limits.runtime import DownloadQuality, OverseerrNewPeople, PlexSignIn

HealthStatus = Literal["online", "offline", "degraded"]


def service_url_problem(url: str) -> str | None:
    """What is wrong with a service base URL, or None: http(s) with a host, nothing
    that is not printable ASCII (urlsplit silently drops a newline or tab, so a URL
    with one passed the checks and was stored), no credentials, query or fragment."""
    if any(ch.isspace() or not ch.isprintable() or not ch.isascii() for ch in url):
        return "The URL must not contain spaces, control or non-ASCII characters."
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "The URL must start with http:// or https:// and name a host."
    if parts.username or parts.password:
        return "Put credentials in the API key field, not in the URL."
    if parts.query or parts.fragment:
        return "The URL must not have a query or fragment."
    try:
        parts.port  # noqa: B018  (raises on an invalid port)
    except ValueError:
        return "The URL has an invalid port."
    return None


def _valid_service_url(url: str) -> str:
    problem = service_url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    return url.rstrip("/")


# A service base URL in a request body: refused with 422 before any service code runs.
ServiceUrl = Annotated[
    str, Field(min_length=1, max_length=2048), AfterValidator(_valid_service_url)
]


# Overseerr's user ids are integers in a 32-bit column (and ours too).
MAX_OVERSEERR_USER_ID = overseerr_models.MAX_ID


class UserChange(ApiInput):
    """A change to a user, from the admin page's row or the API: fields left out keep
    their value."""

    role: Literal["admin", "user"] | None = None
    status: Literal["active", "disabled"] | None = None
    # Overseerr's id of this person: their requests are made as that Overseerr user.
    # Omitted: unchanged; null: no link, by the admin's choice (requests made as the API
    # key's admin, and never linked automatically by Plex account).
    overseerr_user_id: int | None = Field(default=None, ge=1, le=MAX_OVERSEERR_USER_ID)
    # "automatic": the admin's choice is withdrawn: the link goes, and the next request
    # links the Overseerr user with the same Plex account (media/overseerr_link.py).
    overseerr_link: Literal["automatic"] | None = None

    @model_validator(mode="after")
    def _one_link_choice(self) -> UserChange:
        if self.overseerr_link is not None and "overseerr_user_id" in self.model_fields_set:
            raise ValueError("Give either an Overseerr user id or the automatic link, not both.")
        return self


class ServiceOut(ApiModel):
    name: str
    configured: bool
    url: str | None
    enabled: bool
    api_key_set: bool
    password_set: bool = False
    config: dict[str, Any]
    updated_at: datetime | None
    updated_by: uuid.UUID | None


class ServiceUpdate(ApiInput):
    url: ServiceUrl
    # Omitted or null keeps the stored key; an empty string removes it.
    api_key: str | None = Field(default=None, max_length=1024)
    # Write-only, like the key: Uptime Kuma's socket sign-in (omitted keeps, "" removes).
    password: str | None = Field(default=None, max_length=1024)
    enabled: bool
    config: dict[str, Any] | None = None


class ServiceTest(ApiInput):
    """A saved service (`name` only) or a draft; draft fields override the saved ones."""

    name: str = Field(min_length=1, max_length=50)
    url: ServiceUrl | None = None
    api_key: str | None = Field(default=None, max_length=1024)
    password: str | None = Field(default=None, max_length=1024)
    config: dict[str, Any] | None = None


class ServiceTestOut(ApiModel):
    name: str
    reachable: bool
    status: HealthStatus
    version: str | None
    latency_ms: float | None
    error: str | None
    monitor_count: int | None = None


class RuntimeConfigOut(ApiModel):
    api_per_minute: int
    youtube_per_hour: int
    requests_per_hour: int
    default_download_quality: DownloadQuality
    worker_concurrency: int
    per_user_concurrency: int
    plex_sign_in: PlexSignIn
    plex_sign_in_extra_usernames: list[str]
    overseerr_new_people: OverseerrNewPeople
