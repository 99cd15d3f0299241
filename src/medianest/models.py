"""Imports every ORM model so that `Base.metadata` is complete (Alembic, tests).

Composition, above every domain: db/ only gives the base class and the engine.
"""

from medianest.auth.models import ApiToken, AuthSession, PlexPin, SessionToken, User
from medianest.dashboard.models import ServiceStatus
from medianest.db.base import Base
from medianest.integrations.models import ServiceConfig
from medianest.media.models import MediaRequest
from medianest.notifications.models import (
    Notification,
    NotificationChannel,
    NotificationDelivery,
    NotificationSettings,
)
from medianest.platform.models import AuditLog, Lease, SystemSetting
from medianest.youtube.models import YoutubeArchiveEntry, YoutubeDownload, YoutubeSubscription

__all__ = [
    "ApiToken",
    "AuditLog",
    "AuthSession",
    "Base",
    "Lease",
    "MediaRequest",
    "Notification",
    "NotificationChannel",
    "NotificationDelivery",
    "NotificationSettings",
    "PlexPin",
    "ServiceConfig",
    "ServiceStatus",
    "SessionToken",
    "SystemSetting",
    "User",
    "YoutubeArchiveEntry",
    "YoutubeDownload",
    "YoutubeSubscription",
]
