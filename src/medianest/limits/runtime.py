"""The run-time limits every instance applies: `ctx.limits`, a `RuntimeLimits`.

Defaults come from `Settings`; the admin's overrides are stored and loaded by
`medianest.admin.system_config`, which refreshes `ctx.limits` every few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from medianest.settings import Settings


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
        )
