"""Lookups shared by the media endpoints: the Overseerr client, the caller's request
(another user's is a 404, never a 403, so ids reveal nothing), the request quota and the
language titles are shown in."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from medianest.auth.dependencies import CurrentUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import NotFound, ServiceUnavailable
from medianest.integrations.outcomes import outage_message
from medianest.integrations.overseerr import OverseerrClient
from medianest.media import language, service
from medianest.media.models import MediaRequest


async def get_overseerr(user: CurrentUser, ctx: ContextDep) -> OverseerrClient:
    """The configured Overseerr (asked for after the caller is known: anonymous → 401)."""
    client = await ctx.integrations.overseerr()
    if client is None:
        raise ServiceUnavailable(
            outage_message("overseerr", "not configured"),
            details={"service": "overseerr", "reason": "not configured"},
        )
    return client


async def owned_request(
    request_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> MediaRequest:
    """The request with this id if the caller owns it (admins: any request)."""
    row = await service.get_request(session, request_id=request_id)
    if row is None or (row.user_id != user.id and not user.is_admin):
        raise NotFound("No such request.")
    return row


def title_language_of(request: Request) -> str | None:
    """The language the caller's titles are asked in: media/language.py decides, from
    the request's Accept-Language (an answer made with it sends `VARY_LANGUAGE`)."""
    return language.title_language(request.headers.get("accept-language"))


VARY_LANGUAGE = {"Vary": "Accept-Language"}
OverseerrDep = Annotated[OverseerrClient, Depends(get_overseerr)]
OwnedRequest = Annotated[MediaRequest, Depends(owned_request)]
TitleLanguage = Annotated[str | None, Depends(title_language_of)]
