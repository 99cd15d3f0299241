"""Media pages: search with availability badges, requests (seasons for shows) and
"My requests". Fragments call the same media service as `/api/media`."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Query, Request
from fastapi.responses import Response

from medianest.auth.dependencies import CurrentUser
from medianest.auth.models import User
from medianest.auth.page_user import page_router
from medianest.context import AppContext, ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import MediaNestError
from medianest.integrations.overseerr_writes import OverseerrWritesBlocked
from medianest.media import refusals, service
from medianest.media.dependencies import VARY_LANGUAGE, TitleLanguage, get_overseerr
from medianest.media.router import MAX_SEARCH_PAGE
from medianest.media.schemas import MediaRequestIn
from medianest.web.forms import form_input
from medianest.web.fragments import inline_error, trigger
from medianest.web.templating import render

router = page_router()
REQUESTS_PAGE_SIZE = 10


async def _my_requests(session: SessionDep, user: CurrentUser, page: int) -> dict[str, Any]:
    rows, total = await service.list_requests(
        session, owner_id=user.id, status=None, page=page, page_size=REQUESTS_PAGE_SIZE
    )
    pages = max(1, -(-total // REQUESTS_PAGE_SIZE))
    return {"requests": rows, "page": page, "pages": pages, "total": total}


@router.get("/media")
async def media_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    query: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=MAX_SEARCH_PAGE)] = 1,
) -> Response:
    context: dict[str, Any] = {"nav": "media", "query": query.strip(), "search_page": page}
    context.update(await _my_requests(session, user, 1))
    return render(request, "media/index.html", context)


@router.get("/media/search")
async def search_fragment(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    language: TitleLanguage,
    query: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=MAX_SEARCH_PAGE)] = 1,
) -> Response:
    text = query.strip()
    # The page's address follows the search (Back, reload and a shared link find it again);
    # the page's own first load of the results leaves the address as it is.
    address = {"HX-Push-Url": search_address(text, page)}
    if request.headers.get("hx-trigger") == "results":
        address = {}
    address |= VARY_LANGUAGE
    if not text:
        return render(
            request, "media/_results.html", {"outcome": None, "query": ""}, headers=address
        )
    try:
        overseerr = await get_overseerr(user, ctx)
        outcome = await service.search(
            session, overseerr=overseerr, user_id=user.id, query=text, page=page, language=language
        )
    except MediaNestError as error:
        response = inline_error(request, error)
        response.headers.update(address)
        return response
    return render(
        request, "media/_results.html", {"outcome": outcome, "query": text}, headers=address
    )


def search_address(text: str, page: int) -> str:
    """The media page's address for a search ("/media?query=sintel&page=2")."""
    if not text:
        return "/media"
    suffix = f"&page={page}" if page > 1 else ""
    return f"/media?query={quote(text)}{suffix}"


async def _season_choice(
    ctx: AppContext, user: User, tmdb_id: int, language: str | None
) -> dict[str, Any]:
    """What the season chooser shows: each season marked in Plex, requested or free."""
    overseerr = await get_overseerr(user, ctx)
    show = await overseerr.tv_details(tmdb_id, language=language)
    if show is None:
        raise refusals.title_unavailable("tv", tmdb_id, name=overseerr.http.display_name())
    states = show.season_states()
    return {
        "tmdb_id": tmdb_id,
        "seasons": show.regular_season_numbers,
        "states": states,
        "free": [n for n, state in states.items() if state == "requestable"],
        "title": show.display_title,
    }


@router.get("/media/tv/{tmdb_id}/seasons")
async def season_picker(
    tmdb_id: int, request: Request, user: CurrentUser, ctx: ContextDep, language: TitleLanguage
) -> Response:
    try:
        choice = await _season_choice(ctx, user, tmdb_id, language)
    except MediaNestError as error:
        return inline_error(request, error)
    return render(request, "media/_seasons.html", choice, headers=VARY_LANGUAGE)


@router.post("/media/request")
async def request_title(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    language: TitleLanguage,
    media_type: Annotated[str, Form(alias="mediaType")],
    tmdb_id: Annotated[int, Form(alias="tmdbId")],
    seasons: Annotated[list[int] | None, Form()] = None,
    all_seasons: Annotated[str | None, Form(alias="allSeasons")] = None,
) -> Response:
    chosen: list[int] | str | None = None
    if media_type == "tv":
        chosen = "all" if all_seasons or not seasons else seasons
    try:
        wanted = form_input(
            MediaRequestIn,
            {"mediaType": media_type, "tmdbId": tmdb_id, "seasons": chosen},
            messages=dict.fromkeys(
                ("mediaType", "tmdbId", "seasons"),
                "Choose a movie or show, and for a show its seasons.",
            ),
        )
        overseerr = await get_overseerr(user, ctx)
        row = await service.request_for_user(
            session, ctx=ctx, overseerr=overseerr, user=user, wanted=wanted, language=language
        )
    except MediaNestError as error:
        if media_type == "tv" and (
            error.status_code < 500 or isinstance(error, OverseerrWritesBlocked)
        ):
            # A refused choice keeps the chooser (with the reason) so another can be made;
            # so does Overseerr blocking every request (asked again once it no longer does).
            try:
                choice = await _season_choice(ctx, user, tmdb_id, language)
            except MediaNestError:
                return inline_error(request, error)
            return inline_error(request, error, template="media/_seasons.html", context=choice)
        return inline_error(request, error)
    return render(
        request,
        "media/_requested.html",
        {"row": row},
        headers=trigger(f"Requested {row.title}.", "success", **{"requests-changed": True}),
    )


@router.get("/media/requests")
async def requests_fragment(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    return render(request, "media/_requests.html", await _my_requests(session, user, page))
