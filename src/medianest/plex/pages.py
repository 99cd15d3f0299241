"""Plex pages: libraries as tabs, a paged poster grid per library, collections.
Rendered through the same Plex service as `/api/plex`; posters come from our proxy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.responses import Response

from medianest.auth.dependencies import CurrentUser
from medianest.auth.page_user import page_router
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import MediaNestError
from medianest.integrations.outcomes import moment
from medianest.integrations.plex import PlexClient
from medianest.integrations.plex_models import PlexItem, PlexPage
from medianest.plex import children, kinds, playlists, service
from medianest.plex.dependencies import get_browsing_plex, get_owner_plex, get_viewer
from medianest.plex.privacy import Viewer
from medianest.plex.schemas import (
    CollectionOut,
    LibraryOut,
    PlaylistOut,
    PlexEntryOut,
    PlexItemOut,
)
from medianest.web.templating import add_filter, render

router = page_router()
PAGE_SIZE = 24
MAX_PAGE_SIZE = 100
SORTS = {"title": "Title", "-addedAt": "Recently added", "-year": "Newest", "-rating": "Rating"}
# Artists, photo albums and photos have no year or rating of their own in Plex.
UNDATED_SORTS = {"title": "Title", "-addedAt": "Recently added"}
UNDATED_KINDS = ("music", "photos")
add_filter("entry_noun", kinds.entry_noun)
add_filter("leaf_noun", kinds.leaf_noun)
add_filter("track_time", lambda ms: f"{ms // 60000}:{ms // 1000 % 60:02d}" if ms else "")
add_filter("child_noun", kinds.child_noun)
# A grid links to `/plex/items/{id}` exactly what that page can open.
add_filter("opens_here", lambda kind: kind in children.OPENABLE)
add_filter("air_date", lambda day: f"{day.day} {day:%b %Y}" if day else "")

PageNumber = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)]


def _pages(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


def _empty_context(*, sort: str, search: str, page: int, page_size: int) -> dict[str, Any]:
    """What the Plex page shows before (or without) anything from Plex."""
    return {
        "nav": "plex",
        "sorts": SORTS,
        "sort": sort,
        "search": search.strip(),
        "page": page,
        "page_size": page_size,
        "libraries": [],
        "current": None,
        "items": [],
        "total": 0,
        "pages": 1,
        "collections": [],
        "stale": False,
        "read_at": None,
        "playlists": [],
    }


async def _fill_library(
    context: dict[str, Any],
    plex: PlexClient,
    *,
    viewer: Viewer,
    current: LibraryOut,
    page: int,
    page_size: int,
    sort: str,
) -> None:
    """The current library's page of items and its first collections, into `context`."""
    found = await service.library_items(
        plex,
        viewer=viewer,
        library_id=int(current.id),
        page=page,
        page_size=page_size,
        sort=sort,
        search=context["search"] or None,
    )
    context["items"] = [PlexItemOut.of(i) for i in found.value.items]
    context["total"] = found.value.total
    context["pages"] = _pages(found.value.total, page_size)
    context["stale"] = context["stale"] or found.stale
    context["read_at"] = moment(found.read_at)
    listing = await service.collections(
        plex, viewer=viewer, library_id=int(current.id), page=1, page_size=PAGE_SIZE
    )
    context["collections"] = [CollectionOut.of(c) for c in listing.value.items]


@router.get("/plex")
async def plex_page(
    request: Request,
    user: CurrentUser,
    ctx: ContextDep,
    session: SessionDep,
    library: Annotated[str | None, Query(max_length=12, pattern=r"^\d+$")] = None,
    page: PageNumber = 1,
    page_size: PageSize = PAGE_SIZE,
    sort: Annotated[str, Query(pattern=service.SORT_PATTERN)] = "title",
    search: Annotated[str, Query(max_length=200)] = "",
    refresh: Annotated[bool, Query()] = False,
) -> Response:
    context = _empty_context(sort=sort, search=search, page=page, page_size=page_size)
    try:
        plex = await get_browsing_plex(user, ctx)
        viewer = await get_viewer(user, ctx, session)
        if refresh:
            await service.refresh(plex)
        sections = await service.libraries(plex, viewer)
        libraries = [LibraryOut.of(s) for s in sections.value]
        context["libraries"] = libraries
        context["stale"] = sections.stale
        context["plex_web"] = await service.web_app_address(plex)
        current = next((lib for lib in libraries if lib.id == library), None)
        current = current or (libraries[0] if libraries else None)
        context["current"] = current
        if current is not None and current.kind in UNDATED_KINDS:
            context["sorts"] = UNDATED_SORTS
        if current is not None:
            await _fill_library(
                context,
                plex,
                viewer=viewer,
                current=current,
                page=page,
                page_size=page_size,
                sort=sort,
            )
        try:  # a user whose Plex account cannot reach this server still sees the library
            owner = await get_owner_plex(user, ctx)
            own = await playlists.own_playlists(ctx, user, owner)
            context["playlists"] = [PlaylistOut.of(p) for p in own]
        except MediaNestError as error:
            context["playlists_error"] = error.message
    except MediaNestError as error:
        context["error"] = error
        return render(request, "plex/index.html", context, status_code=error.status_code)
    return render(request, "plex/index.html", context)


async def _paged_context(
    plex: PlexClient,
    listing: PlexPage[PlexItem],
    shape: Callable[[PlexItem], PlexItemOut],
    *,
    page: int,
    page_size: int,
    stale: bool,
) -> dict[str, Any]:
    """A page that lists one page of what is inside something (a collection, a show, an
    album...): its items shaped as the API shapes them, the pager, whether Plex is down,
    and where Plex's own app is (each "Open in Plex")."""
    return {
        "nav": "plex",
        "items": [shape(item) for item in listing.items],
        "total": listing.total,
        "page": page,
        "page_size": page_size,
        "pages": _pages(listing.total, page_size),
        "stale": stale,
        "plex_web": await service.web_app_address(plex),
    }


@router.get("/plex/collections/{collection_id}")
async def collection_page(
    collection_id: Annotated[int, Path(ge=1, le=10**9)],
    request: Request,
    user: CurrentUser,
    ctx: ContextDep,
    session: SessionDep,
    page: PageNumber = 1,
    page_size: PageSize = PAGE_SIZE,
) -> Response:
    plex = await get_browsing_plex(user, ctx)
    viewer = await get_viewer(user, ctx, session)
    found = await service.collection_detail(
        plex, viewer=viewer, collection_id=collection_id, page=page, page_size=page_size
    )
    context = await _paged_context(
        plex, found.items, PlexItemOut.of, page=page, page_size=page_size, stale=found.stale
    )
    context["collection"] = CollectionOut.of(found.collection)
    return render(request, "plex/collection.html", context)


@router.get("/plex/items/{item_id}")
async def item_page(
    item_id: Annotated[int, Path(ge=1, le=10**9)],
    request: Request,
    user: CurrentUser,
    ctx: ContextDep,
    session: SessionDep,
    page: PageNumber = 1,
    page_size: PageSize = PAGE_SIZE,
) -> Response:
    """A show's seasons (a grid), a season's episodes (a table), an artist's albums, an
    album's tracks, a photo album's albums and photos."""
    plex = await get_browsing_plex(user, ctx)
    viewer = await get_viewer(user, ctx, session)
    found = await children.item_children(
        plex, viewer=viewer, item_id=item_id, page=page, page_size=page_size
    )
    context = await _paged_context(
        plex, found.children, PlexEntryOut.of, page=page, page_size=page_size, stale=found.stale
    )
    context["item"] = PlexEntryOut.of(found.item)
    return render(request, "plex/item.html", context)


@router.get("/plex/playlists/{playlist_id}")
async def playlist_page(
    playlist_id: Annotated[int, Path(ge=1, le=10**9)],
    request: Request,
    user: CurrentUser,
    ctx: ContextDep,
) -> Response:
    owner = await get_owner_plex(user, ctx)
    found = await playlists.playlist_detail(ctx, user, owner, playlist_id)
    return render(
        request,
        "plex/playlist.html",
        {
            "nav": "plex",
            "playlist": PlaylistOut.of(found.playlist),
            "items": [PlexItemOut.of(i) for i in found.items],
            "total": len(found.items),
            "page": 1,
            "pages": 1,
            "stale": False,
        },
    )
