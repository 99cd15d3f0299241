"""The one call each event site makes: it turns a domain's event into notifications,
in the caller's session (so they commit with the event or not at all)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.media.models import MediaRequest, RequestStatus
from medianest.notifications import service

REQUEST_EVENTS = {
    RequestStatus.APPROVED: ("request.approved", "was approved"),
    RequestStatus.PROCESSING: ("request.approved", "was approved"),
    RequestStatus.DECLINED: ("request.declined", "was declined"),
    RequestStatus.AVAILABLE: ("request.available", "is now available in Plex"),
    RequestStatus.FAILED: ("request.failed", "failed"),
}


class RequestChange(Protocol):
    @property
    def request_id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def status(self) -> str: ...


async def requests_changed(session: AsyncSession, changes: Iterable[RequestChange]) -> None:
    """Notify each request's owner of a new status (approved once, even when Overseerr
    goes on to 'processing')."""
    for change in changes:
        mapped = REQUEST_EVENTS.get(RequestStatus(change.status))
        if mapped is None:
            continue
        event, words = mapped
        subject = f"request:{change.request_id}"
        if event == "request.approved" and await service.already_notified(
            session, subject=subject, event=event
        ):
            continue
        row = await session.get(MediaRequest, uuid.UUID(change.request_id))
        data: dict[str, object] = {"request_id": change.request_id}
        if event == "request.available" and row is not None:
            data["plex"] = {"title": row.title, "type": row.media_type}
        await service.notify(
            session,
            user_ids=[uuid.UUID(change.user_id)],
            event=event,
            title=f"“{change.title}” {words}",
            body=f"Your request for “{change.title}” {words}.",
            data=data,
            subject=subject,
        )
