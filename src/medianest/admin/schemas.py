"""Request and response bodies of the admin service-configuration and system-config API.

Output schemas never carry an API key or password: only whether one is set
(`apiKeySet`, `passwordSet`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from medianest.core.envelope import ApiInput, ApiModel

DownloadQuality = Literal["best", "1080p", "720p", "audio"]
HealthStatus = Literal["online", "offline", "degraded"]
PlexSignIn = Literal["server_users", "any_account"]


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
    url: str = Field(min_length=1, max_length=2048)
    # Omitted or null keeps the stored key; an empty string removes it.
    api_key: str | None = Field(default=None, max_length=1024)
    # Write-only, like the key: Uptime Kuma's socket sign-in (omitted keeps, "" removes).
    password: str | None = Field(default=None, max_length=1024)
    enabled: bool
    config: dict[str, Any] | None = None


class ServiceTest(ApiInput):
    """A saved service (`name` only) or a draft; draft fields override the saved ones."""

    name: str = Field(min_length=1, max_length=50)
    url: str | None = Field(default=None, min_length=1, max_length=2048)
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


class RuntimeConfigUpdate(ApiInput):
    """Fields left out keep their current value."""

    api_per_minute: int | None = Field(default=None, ge=1, le=10_000)
    youtube_per_hour: int | None = Field(default=None, ge=1, le=1_000)
    requests_per_hour: int | None = Field(default=None, ge=1, le=1_000)
    default_download_quality: DownloadQuality | None = None
    worker_concurrency: int | None = Field(default=None, ge=1, le=32)
    per_user_concurrency: int | None = Field(default=None, ge=1, le=16)
    # `server_users`: the Plex server's owner, Plex Home and friends; `any_account`: anyone.
    plex_sign_in: PlexSignIn | None = None
    # Plex usernames admitted besides the server's users (replaces the whole list).
    plex_sign_in_extra_usernames: (
        list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]]
        | None
    ) = Field(default=None, max_length=500)
