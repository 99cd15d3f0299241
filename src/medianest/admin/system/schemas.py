"""The admin system API's shapes: the yt-dlp version and its challenge solver, the
download queue and its breaker, the YouTube settings, and Plex's view of the downloads."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field, field_validator

from medianest.admin.system.rating_progress import RatingProgressInfo
from medianest.core.envelope import ApiInput, ApiModel
from medianest.limits.quotas import QuotaConfig
from medianest.youtube.delivery import ratings
from medianest.youtube.ytdlp import freshness, js_solver


class ChallengeSolverInfo(ApiModel):
    """What solves YouTube's JavaScript challenges (youtube/ytdlp/js_solver.py)."""

    ok: bool
    runtime: str = Field(description="deno, node, bun or quickjs (MEDIANEST_YTDLP_JS_RUNTIME)")
    path: str | None = Field(description="The runtime's binary; null when none was found")
    version: str | None = Field(description="The runtime's version; null when it did not run")
    ejs_version: str | None = Field(description="The solver scripts' version (yt-dlp-ejs)")
    ejs_expected: str | None = Field(description="The scripts' version this yt-dlp asks for")
    warning: str | None
    reason: str = Field(
        description="Why this runtime: named in MEDIANEST_YTDLP_JS_RUNTIME, installed with "
        "MediaNest, or another on PATH when Deno is missing or too old"
    )


class YtDlpInfo(ApiModel):
    version: str
    release_date: date | None
    age_days: int | None
    outdated: bool = Field(description="Older than 30 days, or it could not read a page")
    broke_on: str | None = Field(description="The site of the last page it could not read")
    broke_at: datetime | None
    warning: str | None
    challenge_solver: ChallengeSolverInfo


class BreakerInfo(ApiModel):
    state: Literal["open", "closed"]
    until: datetime | None
    opened_at: datetime | None
    reason: str | None = Field(description="Why the queue paused (last opening)")
    openings_in_a_row: int
    recent_errors: int
    recent_error_kinds: dict[str, int]
    advice: str | None = Field(
        default=None, description="What to do, when bot checks opened it (YouTube cookies)"
    )


class QueueInfo(ApiModel):
    queued: int
    running: int
    paused: dict[str, int] = Field(description="Queued jobs waiting, by pause reason")
    subscriptions: int
    download_group_problem: str | None = Field(
        description="Why this process cannot give folders to MEDIANEST_DOWNLOAD_GID"
    )


class SystemInfo(ApiModel):
    yt_dlp: YtDlpInfo
    queue_breaker: BreakerInfo
    queue: QueueInfo


class YoutubeConfig(ApiInput):
    default_delivery: Literal["playlist", "collection"]
    quotas: QuotaConfig
    plex_path: str | None = Field(
        default=None, description="The download root as Plex sees it (the admin's value)"
    )
    plex_path_in_use: str = Field(
        description="What is used: plexPath, else MEDIANEST_YOUTUBE_PLEX_PATH, else our path"
    )
    content_rating: str | None = Field(description=ratings.LABEL + "; null: none (Plex's)")
    content_rating_progress: RatingProgressInfo | None = Field(
        description="Giving the rating to the downloads delivered before; null: none left"
    )


class YoutubeConfigUpdate(ApiInput):
    default_delivery: Literal["playlist", "collection"] | None = None
    quotas: QuotaConfig | None = None
    plex_path: str | None = Field(
        default=None, max_length=1000, description='"" clears it (back to the setting)'
    )
    content_rating: str | None = Field(
        default=None, max_length=ratings.MAX_LENGTH, description=f'{ratings.RULE} "" clears it'
    )

    @field_validator("content_rating")
    @classmethod
    def _rating(cls, value: str | None) -> str | None:
        return value if value is None else ratings.check(value)


class PlexLibraryInfo(ApiModel):
    id: str
    title: str
    type: str
    kind: str = Field(description="movies, otherVideos, shows, music, photos or other")
    folders: list[str]
    holds_downloads: bool
    unusable: str | None = Field(description="Why downloads cannot go into this library")


class UndeliveredInfo(ApiModel):
    user_id: uuid.UUID
    username: str
    downloads: int = Field(description="Completed downloads not delivered to Plex yet")


class RedeliverOut(ApiModel):
    downloads: int = Field(description="How many of the user's downloads are delivered again")


class PlexDownloadsInfo(ApiModel):
    plex_path: str = Field(description="The download root as Plex sees it (in use)")
    translated: bool
    libraries: list[PlexLibraryInfo]
    holding_library_id: str | None
    problem: str | None
    delivery_library: str | None = Field(
        default=None, description="The library downloads are delivered to"
    )
    not_shared_with: list[str] | None = Field(
        default=None,
        description="Plex users whose share leaves out the delivery library (null: unknown)",
    )
    undelivered: list[UndeliveredInfo] = Field(
        default_factory=list, description="Users with completed downloads not in Plex yet"
    )


class PlexTestIn(ApiInput):
    plex_path: str | None = Field(
        default=None, max_length=1000, description="Test this path instead of the saved one"
    )


class PlexTestOut(ApiModel):
    ok: bool
    message: str
    library_id: str | None
    marker_path: str | None


def ytdlp_info(fresh: freshness.Freshness, solver: js_solver.SolverStatus) -> YtDlpInfo:
    return YtDlpInfo(
        version=fresh.version,
        release_date=fresh.release_date,
        age_days=fresh.age_days,
        outdated=fresh.outdated,
        broke_on=fresh.broke_on,
        broke_at=fresh.broke_at,
        warning=fresh.warning,
        challenge_solver=ChallengeSolverInfo(
            ok=solver.ok,
            runtime=solver.runtime,
            path=solver.path,
            version=solver.version,
            ejs_version=solver.ejs_version,
            ejs_expected=solver.ejs_expected,
            warning=solver.warning,
            reason=solver.reason,
        ),
    )
