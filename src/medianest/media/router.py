"""JSON API of media search and requests (`/api/media`); the logic is in `service`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response

from medianest.auth.dependencies import CurrentUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import (
    ERROR_RESPONSES,
    Envelope,
    PagedEnvelope,
    envelope,
    paged,
)
from medianest.core.errors import PermissionDenied, ValidationFailed
from medianest.media import service
from medianest.media.dependencies import VARY_LANGUAGE, OverseerrDep, OwnedRequest, TitleLanguage
from medianest.media.schemas import (
    MediaRequestIn,
    MediaRequestOut,
    RequestStatusName,
    SearchResultOut,
)

router = api_router(prefix="/api/media", tags=["media"], responses=ERROR_RESPONSES)

# Overseerr (TMDB) answers 20 results a page and at most 500 pages.
SEARCH_PAGE_SIZE = 20
MAX_SEARCH_PAGE = 500


@router.get("/search", response_model=PagedEnvelope[SearchResultOut])
async def search_media(
    user: CurrentUser,
    session: SessionDep,
    overseerr: OverseerrDep,
    language: TitleLanguage,
    response: Response,
    query: Annotated[str, Query(min_length=1, max_length=200)],
    page: Annotated[int, Query(ge=1, le=MAX_SEARCH_PAGE)] = 1,
) -> PagedEnvelope[SearchResultOut]:
    """Movies and shows matching `query`, each saying whether it can still be requested,
    in the language of the caller's Accept-Language (docs/plex-and-downloads.md)."""
    if not query.strip():
        raise ValidationFailed("Type something to search for.", details={"field": "query"})
    outcome = await service.search(
        session,
        overseerr=overseerr,
        user_id=user.id,
        query=query.strip(),
        page=page,
        language=language,
    )
    response.headers.update(VARY_LANGUAGE)
    return paged(
        outcome.results, page=outcome.page, page_size=SEARCH_PAGE_SIZE, total=outcome.total_results
    )


@router.post("/request", response_model=Envelope[MediaRequestOut], status_code=201)
async def request_media(
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    overseerr: OverseerrDep,
    language: TitleLanguage,
    body: MediaRequestIn,
) -> Envelope[MediaRequestOut]:
    """Request a movie, or a show (some seasons or all); duplicates → 409, quota → 429."""
    row = await service.request_for_user(
        session, ctx=ctx, overseerr=overseerr, user=user, wanted=body, language=language
    )
    return envelope(MediaRequestOut.model_validate(row))


@router.get("/requests", response_model=PagedEnvelope[MediaRequestOut])
async def list_media_requests(
    user: CurrentUser,
    session: SessionDep,
    status: RequestStatusName | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 20,
    user_id: Annotated[uuid.UUID | None, Query(alias="userId")] = None,
    all_users: Annotated[bool, Query(alias="all")] = False,
) -> PagedEnvelope[MediaRequestOut]:
    """The caller's requests, newest first; admins may ask for one user's or everyone's."""
    owner_id: uuid.UUID | None = user.id
    if all_users or (user_id is not None and user_id != user.id):
        if not user.is_admin:
            raise PermissionDenied("Only administrators can see other users' requests.")
        owner_id = None if all_users else user_id
    rows, total = await service.list_requests(
        session, owner_id=owner_id, status=status, page=page, page_size=page_size
    )
    items = [MediaRequestOut.model_validate(row) for row in rows]
    return paged(items, page=page, page_size=page_size, total=total)


@router.get("/requests/{request_id}", response_model=Envelope[MediaRequestOut])
async def get_media_request(row: OwnedRequest) -> Envelope[MediaRequestOut]:
    """One request: the caller's own (another user's is 404; admins may read any)."""
    return envelope(MediaRequestOut.model_validate(row))
