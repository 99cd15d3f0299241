"""Media requests made through Overseerr, mirrored locally per user."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import Base, CreatedAt, UUIDPrimaryKey, utcnow


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    PROCESSING = "processing"
    AVAILABLE = "available"
    FAILED = "failed"
    # Deleted in Overseerr (confirmed by a second look, see `sync.py`): nobody declined it.
    REMOVED = "removed"


class MediaRequest(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "media_requests"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    media_type: Mapped[str] = mapped_column(String(8))
    tmdb_id: Mapped[int] = mapped_column(Integer)
    seasons: Mapped[list[Any] | None]
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.PENDING)
    overseerr_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_media_requests_user_id", "user_id"),
        Index("ix_media_requests_tmdb", "tmdb_id", "media_type"),
    )
