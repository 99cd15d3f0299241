"""Notifications (the in-app centre and the outbox's source), channels, deliveries and
each user's notification settings (quiet hours, digest)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import Base, CreatedAt, UUIDPrimaryKey


class ChannelKind(StrEnum):
    APPRISE = "apprise"
    WEBPUSH = "webpush"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (first, retry, or after quiet hours)
    SENDING = "sending"  # claimed by one instance until `claimed_until`
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt; the reason stays visible


# The in-app centre's "channel": a delivery with this target pushes the new
# notification and the unread count to the user's Socket.IO room.
INAPP_TARGET = "inapp"


class Notification(UUIDPrimaryKey, CreatedAt, Base):
    """One event for one user, written in the same transaction as the event itself."""

    __tablename__ = "notifications"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(2048))
    # What the event is about ("request:<id>", "download:<id>"), to find and dedupe.
    subject: Mapped[str | None] = mapped_column(String(100))
    # What the worker still has to look up before sending (e.g. the item's Plex link).
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    in_centre: Mapped[bool] = mapped_column(Boolean, default=True)
    read_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_subject", "subject", "event"),
    )


class NotificationChannel(UUIDPrimaryKey, CreatedAt, Base):
    """Where a user's (or, with no user, the household's) notifications go besides the app."""

    __tablename__ = "notification_channels"

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    # What may be shown: scheme and host of an Apprise URL, the push service's host.
    label: Mapped[str] = mapped_column(String(300))
    # The Apprise URL or the push subscription (JSON), AES-256-GCM; never shown again.
    secret: Mapped[str] = mapped_column(Text)
    # Unique per owner, so the same browser subscribing twice updates one channel.
    fingerprint: Mapped[str] = mapped_column(String(64))
    events: Mapped[list[Any]] = mapped_column(default=list)
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_attempt_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notification_channels_user_id", "user_id"),)


class NotificationDelivery(UUIDPrimaryKey, CreatedAt, Base):
    """The outbox: one row per notification and target, sent once by whichever instance
    claims it (a conditional UPDATE), retried with backoff until sent or given up."""

    __tablename__ = "notification_deliveries"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE")
    )
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE")
    )
    target: Mapped[str] = mapped_column(String(40))  # INAPP_TARGET or the channel id
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("notification_id", "target", name="uq_notification_deliveries_target"),
        Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
        Index("ix_notification_deliveries_channel_id", "channel_id"),
    )


class NotificationSettings(Base):
    """A user's choices: which events show in the centre, quiet hours, the digest."""

    __tablename__ = "notification_settings"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # None: every event the user may receive shows in the centre.
    centre_events: Mapped[list[Any] | None]
    # Minutes after local midnight; both None = no quiet hours. The window may wrap midnight.
    quiet_start_minute: Mapped[int | None] = mapped_column(Integer)
    quiet_end_minute: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    digest: Mapped[str] = mapped_column(String(8), default="off")  # off | daily | weekly
    digest_everything: Mapped[bool] = mapped_column(Boolean, default=False)
    digest_sent_at: Mapped[datetime | None]
