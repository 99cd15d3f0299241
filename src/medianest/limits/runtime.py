"""The run-time limits every instance applies: `ctx.limits`, a `RuntimeLimits`.

Defaults come from `Settings`; the admin's overrides (`RuntimeConfigUpdate`, whose
bounds stored values pass too) are loaded by `medianest.limits.store`, which refreshes
`ctx.limits` every few seconds, and saved by `medianest.admin.system.config`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from medianest.core.envelope import ApiInput
from medianest.settings import Settings

DownloadQuality = Literal["best", "1080p", "720p", "audio"]
PlexSignIn = Literal["server_users", "any_account"]
OverseerrNewPeople = Literal["import", "as_admin"]


@dataclass(frozen=True)
class RuntimeLimits:
    api_per_minute: int
    youtube_per_hour: int
    requests_per_hour: int
    default_download_quality: str
    worker_concurrency: int
    per_user_concurrency: int
    plex_sign_in: str = "server_users"
    plex_sign_in_extra_usernames: tuple[str, ...] = ()
    overseerr_new_people: str = "import"

    @classmethod
    def defaults(cls, settings: Settings) -> RuntimeLimits:
        return cls(
            api_per_minute=settings.rate_limit_api_per_minute,
            youtube_per_hour=settings.rate_limit_youtube_per_hour,
            requests_per_hour=settings.rate_limit_requests_per_hour,
            default_download_quality=settings.default_download_quality,
            worker_concurrency=settings.worker_concurrency,
            per_user_concurrency=settings.worker_per_user_concurrency,
            plex_sign_in=settings.plex_signin,
            plex_sign_in_extra_usernames=tuple(settings.plex_signin_extra_usernames),
            overseerr_new_people=settings.overseerr_new_people,
        )


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
    # A Plex user Overseerr has no user for: `import` them into Overseerr at their first
    # request (its default permissions apply), or request `as_admin` (approved at once).
    overseerr_new_people: OverseerrNewPeople | None = None
