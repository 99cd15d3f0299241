"""API shapes of notifications and channels; a channel's output never carries its secret."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from medianest.core.envelope import ApiInput, ApiModel


class NotificationOut(ApiModel):
    id: uuid.UUID
    event: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationListOut(ApiModel):
    items: list[NotificationOut]
    unread: int


class MarkReadIn(ApiInput):
    """Mark these notifications read, or every one with `all`."""

    ids: list[uuid.UUID] | None = Field(default=None, max_length=500)
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> MarkReadIn:
        if (self.ids is None) == (not self.all):
            raise ValueError("give either ids or all: true")
        return self


class UnreadOut(ApiModel):
    unread: int


class ChannelIn(ApiInput):
    """An Apprise URL, or a browser's push subscription (`subscription`), and its events."""

    url: str | None = Field(default=None, max_length=2048)
    subscription: dict[str, Any] | None = None
    events: list[str] | None = Field(default=None, max_length=50)
    household: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> ChannelIn:
        if (self.url is None) == (self.subscription is None):
            raise ValueError("give either url (Apprise) or subscription (web push)")
        return self


class ChannelOut(ApiModel):
    id: uuid.UUID
    kind: Literal["apprise", "webpush"]
    label: str
    events: list[str]
    household: bool
    last_status: str | None
    last_error: str | None
    last_attempt_at: datetime | None
    created_at: datetime


class ChannelTestOut(ApiModel):
    ok: bool
    reason: str


class PushKeyOut(ApiModel):
    public_key: str | None
