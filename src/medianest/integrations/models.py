"""Connection settings of the external apps (Plex, Overseerr, Uptime Kuma), one row each."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import Base, utcnow


class ServiceConfig(Base):
    __tablename__ = "service_config"

    service_name: Mapped[str] = mapped_column(String(50), primary_key=True)
    service_url: Mapped[str | None] = mapped_column(String(2048))
    api_key: Mapped[str | None] = mapped_column(Text)  # AES-256-GCM, see core.crypto
    # Uptime Kuma's socket sign-in (encrypted like the key; never read back out).
    password: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
