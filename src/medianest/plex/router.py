"""JSON API of Plex browsing (`/api/plex`) and the poster proxy; logic in `service`."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Path, Query, Request, Response

from medianest.auth.dependencies import CurrentUser, counted_as_images
from medianest.context import ContextDep
from medianest.core.deps import api_router
from medianest.core.envelope import ERROR_RESPONSES, Envelope, envelope
from medianest.plex import children, playlists, service
from medianest.plex.dependencies import BrowsingPlex, OwnerPlex, PlexViewer
from medianest.plex.schemas import (
    CachedEnvelope,
    CachedPagedEnvelope,
    CollectionDetailOut,
    CollectionOut,
    LibraryOut,
    PlaylistDetailOut,
    PlaylistOut,
    PlexEntryOut,
    PlexItemOut,
    cached_envelope,
    cached_paged,
)

router = api_router(prefix="/api/plex", tags=["plex"], responses=ERROR_RESPONSES)

LibraryId = Annotated[int, Path(ge=1, le=10**9)]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(alias="pageSize", ge=1, le=100)]
# Paths with a timestamp change when the image does, so browsers may keep them long.
VERSIONED_MAX_AGE = 86_400
UNVERSIONED_MAX_AGE = 3_600


@router.get("/libraries", response_model=CachedEnvelope[list[LibraryOut]])
async def list_libraries(
    plex: BrowsingPlex, viewer: PlexViewer, ctx: ContextDep
) -> CachedEnvelope[list[LibraryOut]]:
    """The server's libraries (sections) shared with the caller (all, for admins)."""
    found = await service.libraries(plex, viewer)
    data = [LibraryOut.of(section) for section in found.value]
    return cached_envelope(data, stale=found.stale, read_at=found.read_at)


@router.get("/library/{library_id}/items", response_model=CachedPagedEnvelope[PlexItemOut])
async def list_library_items(
    plex: BrowsingPlex,
    viewer: PlexViewer,
    ctx: ContextDep,
    library_id: LibraryId,
    page: PageNumber = 1,
    page_size: PageSize = 50,
    sort: Annotated[str | None, Query(pattern=service.SORT_PATTERN)] = None,
    search: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> CachedPagedEnvelope[PlexItemOut]:
    """One page of a library, sorted by `title`, `year`, `addedAt` or `rating`
    (`:desc` or a leading `-` for descending), optionally filtered by title."""
    found = await service.library_items(
        plex,
        viewer=viewer,
        library_id=library_id,
        page=page,
        page_size=page_size,
        sort=sort,
        search=search.strip() if search and search.strip() else None,
    )
    items = [PlexItemOut.of(item) for item in found.value.items]
    return cached_paged(
        items,
        page=page,
        page_size=page_size,
        total=found.value.total,
        stale=found.stale,
        read_at=found.read_at,
    )


@router.get("/collections", response_model=CachedPagedEnvelope[CollectionOut])
async def list_collections(
    plex: BrowsingPlex,
    viewer: PlexViewer,
    ctx: ContextDep,
    library_id: Annotated[int | None, Query(alias="libraryId", ge=1, le=10**9)] = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> CachedPagedEnvelope[CollectionOut]:
    """Collections of one library (`libraryId`) or of all of them."""
    found = await service.collections(
        plex,
        viewer=viewer,
        library_id=library_id,
        page=page,
        page_size=page_size,
    )
    items = [CollectionOut.of(item) for item in found.value.items]
    return cached_paged(
        items,
        page=page,
        page_size=page_size,
        total=found.value.total,
        stale=found.stale,
        read_at=found.read_at,
    )


@router.get("/collections/{collection_id}", response_model=CachedEnvelope[CollectionDetailOut])
async def get_collection(
    plex: BrowsingPlex,
    viewer: PlexViewer,
    ctx: ContextDep,
    collection_id: LibraryId,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> CachedEnvelope[CollectionDetailOut]:
    """A collection and one page of its items."""
    found = await service.collection_detail(
        plex,
        viewer=viewer,
        collection_id=collection_id,
        page=page,
        page_size=page_size,
    )
    summary = CollectionOut.of(found.collection)
    data = CollectionDetailOut(
        **summary.model_dump(),
        items=[PlexItemOut.of(item) for item in found.items.items],
        total=found.items.total,
    )
    return cached_envelope(data, stale=found.stale, read_at=found.read_at)


@router.get("/items/{item_id}/children", response_model=CachedPagedEnvelope[PlexEntryOut])
async def list_item_children(
    plex: BrowsingPlex,
    viewer: PlexViewer,
    ctx: ContextDep,
    item_id: LibraryId,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> CachedPagedEnvelope[PlexEntryOut]:
    """What a show (its seasons), a season (its episodes), an artist (its albums, EPs and
    singles), an album (its tracks) or a photo album (its albums and photos) holds, in
    Plex's order; any other item is a 404."""
    found = await children.item_children(
        plex, viewer=viewer, item_id=item_id, page=page, page_size=page_size
    )
    return cached_paged(
        [PlexEntryOut.of(item) for item in found.children.items],
        page=page,
        page_size=page_size,
        total=found.children.total,
        stale=found.stale,
        read_at=found.read_at,
    )


@router.get("/playlists", response_model=Envelope[list[PlaylistOut]])
async def list_playlists(
    plex: OwnerPlex, user: CurrentUser, ctx: ContextDep
) -> Envelope[list[PlaylistOut]]:
    """The caller's own video playlists on this server (private playlists included)."""
    found = await playlists.own_playlists(ctx, user, plex)
    return envelope([PlaylistOut.of(p) for p in found])


@router.get("/playlists/{playlist_id}", response_model=Envelope[PlaylistDetailOut])
async def get_playlist(
    plex: OwnerPlex, user: CurrentUser, ctx: ContextDep, playlist_id: LibraryId
) -> Envelope[PlaylistDetailOut]:
    """One of the caller's playlists with its items (another account's is a 404)."""
    found = await playlists.playlist_detail(ctx, user, plex, playlist_id)
    summary = PlaylistOut.of(found.playlist)
    items = [PlexItemOut.of(i) for i in found.items]
    return envelope(PlaylistDetailOut(**summary.model_dump(), items=items))


@router.post("/refresh", response_model=Envelope[None])
async def refresh_library_data(plex: BrowsingPlex) -> Envelope[None]:
    """Forget MediaNest's cached library answers; the next reads ask Plex again."""
    await service.refresh(plex)
    return envelope(None)


@router.get(
    "/image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}, 304: {}},
)
@counted_as_images  # a page shows dozens
async def proxy_image(
    request: Request,
    plex: BrowsingPlex,
    viewer: PlexViewer,
    ctx: ContextDep,
    path: Annotated[str, Query(min_length=1, max_length=200)],
    width: Annotated[int | None, Query(ge=16, le=1000)] = None,
    height: Annotated[int | None, Query(ge=16, le=1000)] = None,
) -> Response:
    """A library image fetched from Plex with the server token, which never reaches the
    browser; cacheable privately (per signed-in user) and revalidated by ETag."""
    found = await service.image(
        plex,
        viewer=viewer,
        path=path,
        width=width,
        height=height,
    )
    etag = '"' + hashlib.sha256(found.content).hexdigest()[:32] + '"'
    versioned = path.rsplit("/", 1)[-1].isdigit() and path.count("/") >= 5
    headers = {
        "Cache-Control": f"private, max-age={VERSIONED_MAX_AGE if versioned else UNVERSIONED_MAX_AGE}",
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
    }
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(content=found.content, media_type=found.content_type, headers=headers)
