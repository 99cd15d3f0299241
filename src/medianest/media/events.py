"""What media requests tell the rest of MediaNest (published with `core.events.publish`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from medianest.core.events import DomainEvent


@dataclass(frozen=True)
class StatusChange:
    request_id: str
    user_id: str
    title: str
    status: str


@dataclass(frozen=True)
class RequestStatusesChanged(DomainEvent):
    """Requests moved to a new status (from Overseerr's webhook or the reconcile)."""

    changes: tuple[StatusChange, ...]
    # What the request service is called here when it changed (Integrations.display_name).
    service_name: str


@dataclass(frozen=True)
class RequestCreated(DomainEvent):
    """A user's new request counts against their weekly request quota."""

    user_id: uuid.UUID
