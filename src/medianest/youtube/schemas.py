"""Request and response shapes of the YouTube download API."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from medianest.core.envelope import ApiInput, ApiModel
from medianest.youtube.models import ItemState, JobItem, YoutubeDownload

Quality = Literal["best", "1080p", "720p", "audio"]


class DownloadRequest(ApiInput):
    url: str = Field(min_length=1, max_length=2048, description="A YouTube playlist or video link")
    quality: Quality | None = Field(default=None, description="Defaults to the server's setting")
    delivery: Literal["playlist", "collection"] | None = Field(
        default=None, description="Private Plex playlist or shared collection; default: admin's"
    )


class DownloadItem(ApiModel):
    index: int
    title: str
    state: ItemState
    progress: float = 0
    file: str | None = Field(default=None, description="Relative to the user's download folder")
    bytes: int = 0
    error: str | None = None
    error_kind: str | None = None
    live_status: str | None = Field(
        default=None, description="yt-dlp's live status when known (is_live, is_upcoming, ...)"
    )
    note: str | None = Field(default=None, description="Why a waiting item waits")


class Download(ApiModel):
    id: uuid.UUID
    user_id: uuid.UUID = Field(description="The owner (admins see everyone's)")
    url: str
    title: str | None
    quality: str
    status: str
    progress: float
    total_items: int
    completed_items: int
    failed_items: int
    waiting_items: int = Field(0, description="Live or not aired yet; downloaded later")
    items: list[DownloadItem]
    folder: str | None = Field(description="Relative to the user's download folder")
    bytes_downloaded: int
    error: str | None
    pause_reason: str | None
    cancel_requested: bool
    attempts: int
    plex_collection_id: str | None
    plex_playlist_id: str | None = None
    delivery: str = "collection"
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


def _item(item: JobItem) -> DownloadItem:
    return DownloadItem(
        index=item.index,
        title=item.title,
        state=item.state,
        progress=float(item.progress),
        file=item.file,
        bytes=item.bytes,
        error=item.error,
        error_kind=item.error_kind,
        live_status=item.live_status,
        note=item.note,
    )


def to_download(job: YoutubeDownload) -> Download:
    items = [_item(i) for i in (job.items or [])]
    return Download(
        id=job.id,
        user_id=job.user_id,
        url=job.url,
        title=job.title,
        quality=job.quality,
        status=job.status,
        progress=job.progress or 0.0,
        total_items=len(items),
        completed_items=sum(1 for i in items if i.state == "completed"),
        failed_items=sum(1 for i in items if i.state == "failed"),
        waiting_items=sum(1 for i in items if i.state == "waiting"),
        items=items,
        folder=Path(job.folder).name if job.folder else None,
        bytes_downloaded=job.bytes_downloaded or 0,
        error=job.error,
        pause_reason=job.pause_reason,
        cancel_requested=bool(job.cancel_requested),
        attempts=job.attempts or 0,
        plex_collection_id=job.plex_collection_id,
        plex_playlist_id=job.plex_playlist_id,
        delivery=job.delivery or "collection",
        created_at=job.created_at,
        started_at=job.started_at,
        completed_at=job.completed_at,
    )


DeliveryChoice = Literal["playlist", "collection"]
MAX_INTERVAL_HOURS = 24 * 30


class SubscriptionIn(ApiInput):
    url: str = Field(min_length=1, max_length=2048, description="A playlist or channel link")
    quality: Quality | None = None
    interval_hours: float = Field(default=6.0, ge=1, le=MAX_INTERVAL_HOURS)
    delivery: DeliveryChoice | None = Field(
        default=None, description="Private playlist or shared collection; default: the admin's"
    )


class SubscriptionPatch(ApiInput):
    """A change to a subscription: fields left out keep their value."""

    paused: bool | None = None
    interval_hours: float | None = Field(default=None, ge=1, le=MAX_INTERVAL_HOURS)
    quality: Quality | None = None
    delivery: DeliveryChoice | None = None
