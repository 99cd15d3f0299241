"""YouTube downloads (the durable job queue), subscriptions and the per-user archive."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import Base, CreatedAt, PydanticJSON, UUIDPrimaryKey


class DownloadStatus(StrEnum):
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# "waiting": live now or not aired yet; nothing was fetched and a later run tries again
# (youtube/jobs/waiting.py). Items are JSON: a new state needs no migration.
ItemState = Literal["pending", "downloading", "completed", "failed", "cancelled", "waiting"]


class JobItem(BaseModel):
    """One video of a download, as stored in `YoutubeDownload.items` (camelCase keys)."""

    # Keys another version wrote survive a rewrite; names or aliases both build one.
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    index: int = 0  # position in the playlist
    key: str = ""  # a stable id of the video (YouTube id, or the media URL)
    title: str = ""
    url: str = ""
    file: str | None = None  # relative to the owner's download folder once downloaded
    state: ItemState = "pending"
    error: str | None = None
    error_kind: str | None = Field(default=None, alias="errorKind")
    bytes: int = 0
    # Stored as written (0, 100 or 37.5): an int stays an int in the JSON.
    progress: int | float = 0
    number: int | None = None  # a subscription item's file number (set before download)
    # yt-dlp's live status when the playlist listed it ("is_live", "is_upcoming", ...).
    live_status: str | None = Field(default=None, alias="liveStatus")
    note: str | None = None  # why a waiting item waits, in plain words

    @classmethod
    def pending(
        cls, index: int, *, key: str, title: str, url: str, live_status: str | None = None
    ) -> JobItem:
        """A newly listed item, every key set so the stored JSON has them all."""
        return cls(
            index=index,
            key=key,
            title=title,
            url=url,
            live_status=live_status,
            note=None,
            file=None,
            state="pending",
            error=None,
            error_kind=None,
            bytes=0,
            progress=0,
        )


ACTIVE_STATUSES_SQL = "status IN ('queued', 'downloading', 'processing')"


class YoutubeDownload(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "youtube_downloads"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str | None] = mapped_column(String(500))
    quality: Mapped[str] = mapped_column(String(16), default="best")
    status: Mapped[str] = mapped_column(String(16), default=DownloadStatus.QUEUED)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    items: Mapped[list[JobItem]] = mapped_column(PydanticJSON(list[JobItem]), default=list)
    error: Mapped[str | None] = mapped_column(Text)
    plex_collection_id: Mapped[str | None] = mapped_column(String(64))
    plex_playlist_id: Mapped[str | None] = mapped_column(String(64))
    delivery: Mapped[str] = mapped_column(String(16), default="collection")
    folder: Mapped[str | None] = mapped_column(String(1024))
    bytes_downloaded: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_reason: Mapped[str | None] = mapped_column(String(32))
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("youtube_subscriptions.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # Completed, but its items are not in the user's collection or playlist (the library
    # was not shared with them, Plex failed; `error` says so): delivered again from
    # `plex_due_at` on, by one worker at a time (`plex_claimed_until`), at the next change
    # (youtube/jobs/redelivery.py). A `plex_due_at` still to come says Plex failed it: due
    # at once when Plex answers again; the other reasons wait with none.
    plex_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    plex_due_at: Mapped[datetime | None]
    plex_claimed_until: Mapped[datetime | None]

    # Delivered with no content rating or another one than the admin's now: given the
    # admin's rating from `rating_due_at` on, by one worker at a time (`rating_claimed_until`),
    # youtube/jobs/rerating.py.
    rating_due_at: Mapped[datetime | None]
    rating_claimed_until: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_youtube_downloads_user_id", "user_id"),
        Index("ix_youtube_downloads_plex_due_at", "plex_due_at"),
        Index("ix_youtube_downloads_rating_due_at", "rating_due_at"),
        Index("ix_youtube_downloads_status", "status", "next_attempt_at"),
        # One active download per user and URL, even when two submissions race: unique
        # over the active statuses only (ACTIVE_STATUSES_SQL), which the migration (yt_1)
        # makes on both databases (tests/db/test_migrations.py checks both). Naming
        # `sqlite_where` or `postgresql_where` here would load that dialect into every
        # process only to check the option's name.
        Index("uq_youtube_downloads_active_url", "user_id", "url", unique=True),
    )


class YoutubeSubscription(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "youtube_subscriptions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str | None] = mapped_column(String(500))
    quality: Mapped[str] = mapped_column(String(16), default="best")
    interval_hours: Mapped[float] = mapped_column(Float, default=6.0)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    last_check_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    items_found: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    # "playlist" (private) or "collection" (shared); None = the admin's default.
    delivery: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_youtube_subscriptions_user_id", "user_id"),)


class YoutubeArchiveEntry(UUIDPrimaryKey, CreatedAt, Base):
    """One video a user has downloaded, so subscriptions fetch only new items."""

    __tablename__ = "youtube_archive"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    video_key: Mapped[str] = mapped_column(String(300))
    download_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("youtube_downloads.id", ondelete="SET NULL")
    )
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (UniqueConstraint("user_id", "video_key"),)
