"""The last known status of every external service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import Base


class ServiceStatus(Base):
    __tablename__ = "service_status"

    service_name: Mapped[str] = mapped_column(String(50), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    response_time_ms: Mapped[float | None] = mapped_column(Float)
    last_check_at: Mapped[datetime | None]
    uptime_percentage: Mapped[float | None] = mapped_column(Float)
    checks_total: Mapped[int] = mapped_column(Integer, default=0)
    checks_up: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
