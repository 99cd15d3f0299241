"""Media search and requests: Overseerr does the work, our table remembers who asked.

Rules kept here: people are dropped from search results; who requested something is
only ever "you" or "someone"; one open request per title (by anyone) and, for shows,
per season; a per-user quota per hour; Overseerr's refusals keep their meaning.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import User
from medianest.context import AppContext
from medianest.core.errors import Conflict, MediaNestError, ValidationFailed
from medianest.core.events import publish
from medianest.core.logging import get_logger
from medianest.core.ratelimit import RateLimiter
from medianest.db.base import utcnow
from medianest.integrations.overseerr import OverseerrClient, OverseerrRefused
from medianest.integrations.overseerr_models import (
    MediaInfo,
    MediaStatus,
    MovieDetails,
    MovieResult,
    TvDetails,
    TvResult,
    request_local_status,
)
from medianest.media import duplicates, overseerr_link, quotas, refusals
from medianest.media.events import RequestCreated
from medianest.media.models import MediaRequest, RequestStatus
from medianest.media.schemas import MediaRequestIn, SearchResultOut
from medianest.platform import audit

log = get_logger(__name__)

# Statuses that can still change, so the reconcile asks Overseerr about them.
OPEN_STATUSES = (RequestStatus.PENDING, RequestStatus.APPROVED, RequestStatus.PROCESSING)
FINAL_STATUSES = (
    RequestStatus.AVAILABLE,
    RequestStatus.DECLINED,
    RequestStatus.FAILED,
    RequestStatus.REMOVED,
)
QUOTA_WINDOW_SECONDS = 3600


@dataclass(frozen=True)
class SearchOutcome:
    results: list[SearchResultOut]
    page: int
    total_pages: int
    total_results: int


async def search(
    session: AsyncSession,
    *,
    overseerr: OverseerrClient,
    user_id: uuid.UUID,
    query: str,
    page: int,
    language: str | None = None,
) -> SearchOutcome:
    """Search Overseerr and say, per movie or show, whether it can still be requested;
    titles and overviews in `language` (None: Overseerr's own; media/language.py)."""
    found = await overseerr.search(query, page=page, language=language)
    titles = [r for r in found.results if isinstance(r, MovieResult | TvResult)]
    active = await duplicates.active_rows(session, [(r.media_type, r.id) for r in titles])
    results = [
        _search_result(r, _requesters(active.get((r.media_type, r.id), []), r.media_info), user_id)
        for r in titles
    ]
    return SearchOutcome(
        results=results,
        page=found.page,
        total_pages=found.total_pages,
        total_results=found.total_results,
    )


def _search_result(
    result: MovieResult | TvResult, requesters: set[uuid.UUID], user_id: uuid.UUID
) -> SearchResultOut:
    info = result.media_info
    status = info.status if info is not None else MediaStatus.UNKNOWN
    requested_upstream = info is not None and (
        status in (MediaStatus.PENDING, MediaStatus.PROCESSING) or bool(info.holding_requests())
    )
    out = SearchResultOut(
        tmdb_id=result.id,
        media_type=result.media_type,
        title=result.display_title,
        year=result.year,
        poster_url=result.poster_url,
        overview=result.overview,
        availability="requestable",
        partially_available=status == MediaStatus.PARTIALLY_AVAILABLE,
    )
    if status == MediaStatus.AVAILABLE:
        out.availability = "available"
    elif status == MediaStatus.BLOCKLISTED:
        out.availability = "blocklisted"  # Seerr: nobody can request it
    elif user_id in requesters:
        out.availability, out.requested_by = "requested", "you"
    elif requesters or requested_upstream:
        out.availability, out.requested_by = "requested", "someone"
    return out


def _requesters(rows: list[MediaRequest], media: MediaInfo | None) -> set[uuid.UUID]:
    """Who of us holds the title now (`duplicates.held`: not a request fulfilled once
    whose title Overseerr says has left Plex)."""
    return {row.user_id for row in duplicates.holders(rows, media)}


async def request_for_user(
    session: AsyncSession,
    *,
    ctx: AppContext,
    overseerr: OverseerrClient,
    user: User,
    wanted: MediaRequestIn,
    language: str | None = None,
) -> MediaRequest:
    """The one "request a title" action of the page and the API: the role's weekly
    quota, the hourly rate, and Overseerr asked as the user's linked Overseerr user
    (linked by Plex account at the first request when no admin chose, imported into
    Overseerr first when it has none and the admin did not choose `as_admin`:
    overseerr_link, overseerr_import)."""
    await quotas.enforce_media_requests(session, user)
    import_missing = ctx.limits.overseerr_new_people == "import"
    requester = await overseerr_link.requesting_overseerr_user(
        ctx, overseerr=overseerr, user=user, import_missing=import_missing
    )
    request = functools.partial(
        create_request,
        session,
        overseerr=overseerr,
        rate_limiter=ctx.rate_limiter,
        per_hour=requests_per_hour(ctx),
        user_id=user.id,
        wanted=wanted,
        language=language,
    )
    try:
        return await request(overseerr_user_id=requester.overseerr_user_id)
    except refusals.StaleOverseerrLink as stale:
        if not requester.automatic:
            raise  # an admin's link: only an administrator mends it
        healed = await overseerr_link.heal_stale_link(
            ctx,
            overseerr=overseerr,
            user=user,
            stale=stale.overseerr_user_id,
            import_missing=import_missing,
        )
        if healed.overseerr_user_id == stale.overseerr_user_id:
            raise
    # Made once more, not in a loop: a link gone again by now is refused.
    return await request(overseerr_user_id=healed.overseerr_user_id)


def requests_per_hour(ctx: AppContext) -> int:
    """The per-user request quota: the admin's run-time value, else the setting."""
    return ctx.limits.requests_per_hour or ctx.settings.rate_limit_requests_per_hour


async def create_request(
    session: AsyncSession,
    *,
    overseerr: OverseerrClient,
    rate_limiter: RateLimiter,
    per_hour: int,
    user_id: uuid.UUID,
    wanted: MediaRequestIn,
    overseerr_user_id: int | None = None,
    language: str | None = None,
) -> MediaRequest:
    """Request a movie or show in Overseerr for `user_id` and remember it: as Overseerr
    user `overseerr_user_id` when linked to one (their approval rule, quotas and
    permissions apply), else as the API key's admin (docs/plex-and-downloads.md). Order
    matters: the title checked first (`_checked_title`, named in `language`, the
    requester's), then the quota is spent, then Overseerr is asked (never retried)."""
    title, seasons = await _checked_title(session, overseerr, wanted, language)
    # Counted before Overseerr is asked, so parallel requests cannot all pass the limit;
    # given back when Overseerr did not make it (`refusals.not_made`).
    key = f"media-requests:{user_id}"
    quota = await rate_limiter.hit(key, limit=per_hour, window_seconds=QUOTA_WINDOW_SECONDS)
    quota.raise_if_exceeded("You have used up your media requests for this hour.")
    try:
        created = await overseerr.create_request(
            media_type=wanted.media_type,
            tmdb_id=wanted.tmdb_id,
            seasons=seasons,
            overseerr_user_id=overseerr_user_id,
        )
    except MediaNestError as exc:
        if refusals.not_made(exc):
            await rate_limiter.refund(key, limit=per_hour, window_seconds=QUOTA_WINDOW_SECONDS)
        if not isinstance(exc, OverseerrRefused):
            raise
        if exc.upstream_status == 403 and overseerr_user_id is not None:
            await refusals.refuse_stale_link(overseerr, overseerr_user_id, exc)
        raise refusals.refusal(exc) from None
    row = MediaRequest(
        user_id=user_id,
        title=title,
        media_type=wanted.media_type,
        tmdb_id=wanted.tmdb_id,
        seasons=sorted(s.season_number for s in created.seasons) or None,
        status=request_local_status(created) or RequestStatus.PENDING,
        overseerr_id=created.id,
    )
    if row.status == RequestStatus.AVAILABLE:
        row.completed_at = utcnow()
    await _release_reused_overseerr_id(session, overseerr_id=created.id, user_id=user_id)
    session.add(row)
    await session.flush()
    await publish(session, RequestCreated(user_id=user_id))
    log.info(
        "media_request_created",
        request_id=str(row.id),
        overseerr_id=created.id,
        media_type=row.media_type,
        tmdb_id=row.tmdb_id,
    )
    return row


async def _checked_title(
    session: AsyncSession,
    overseerr: OverseerrClient,
    wanted: MediaRequestIn,
    language: str | None,
) -> tuple[str, list[int] | None]:
    """The title and seasons to ask for. Bad input is refused first, then by the title as
    Overseerr has it now: it must exist; blocklisted, or already taken by one of ours
    (`duplicates.py`), it is refused, before anything is counted or asked."""
    if wanted.media_type == "movie" and wanted.seasons is not None:
        raise ValidationFailed("Seasons can only be given for TV shows.")
    details = await title_details(overseerr, wanted.media_type, wanted.tmdb_id, language)
    await _refuse_taken(session, wanted, details.media_info)
    return _title_and_seasons(details, wanted)


async def _refuse_taken(
    session: AsyncSession, wanted: MediaRequestIn, media: MediaInfo | None
) -> None:
    """A title Seerr blocklisted, one of ours already takes (by what Overseerr says of
    the title now, `media`), or, for a film, one in Plex or with an open request in
    Overseerr (`MediaInfo.holding_requests`), is refused."""
    if media is not None and media.status == MediaStatus.BLOCKLISTED:
        raise refusals.blocklisted()
    existing = await duplicates.duplicate(session, wanted, media)
    if existing is not None:
        raise Conflict(
            "This title has already been requested.",
            details={"existingRequest": {"id": str(existing.id), "status": existing.status}},
        )
    if wanted.media_type != "movie" or media is None:
        return
    # Overseerr would make these: its check (MediaRequest.ts, Overseerr 155-195, Seerr
    # 162-203) reads only the film's oldest request, never its status. So a film its Plex
    # scan found, or whose request Seerr completed, would be requested (and downloaded)
    # again, and so would one asked for anew after a declined first request.
    if media.status == MediaStatus.AVAILABLE:
        raise Conflict("This film is already in Plex.", details={"reason": "available"})
    if media.holding_requests():
        raise Conflict(
            "This title has already been requested.",
            details={"reason": "requested_in_overseerr"},
        )


async def _release_reused_overseerr_id(
    session: AsyncSession, *, overseerr_id: int, user_id: uuid.UUID
) -> None:
    """Overseerr's ids are Overseerr's: after a reset or a new install it hands out an id
    a stale local row still holds. That row's request no longer exists upstream, so it
    lets go of the id (kept, unlinked, audited) and the new request takes it."""
    stale = await session.scalar(
        select(MediaRequest).where(MediaRequest.overseerr_id == overseerr_id)
    )
    if stale is None:
        return
    stale.overseerr_id = None
    await session.flush()
    audit.record(
        session,
        action="media_request.overseerr_id_reused",
        actor_id=user_id,
        target=str(stale.id),
        details={"overseerrId": overseerr_id, "staleStatus": str(stale.status)},
    )
    log.warning(
        "media_request_overseerr_id_reused", overseerr_id=overseerr_id, stale_id=str(stale.id)
    )


async def title_details(
    overseerr: OverseerrClient, media_type: str, tmdb_id: int, language: str | None
) -> MovieDetails | TvDetails:
    """The title as Overseerr has it now (with its `mediaInfo`), named in `language`;
    a title Overseerr cannot retrieve is refused."""
    found: MovieDetails | TvDetails | None
    if media_type == "movie":
        found = await overseerr.movie_details(tmdb_id, language=language)
    else:
        found = await overseerr.tv_details(tmdb_id, language=language)
    if found is None:
        name = overseerr.http.display_name()
        raise refusals.title_unavailable(media_type, tmdb_id, name=name)
    return found


def _title_and_seasons(
    details: MovieDetails | TvDetails, wanted: MediaRequestIn
) -> tuple[str, list[int] | None]:
    """The title to remember, and the seasons to ask for (checked against the show)."""
    if not isinstance(details, TvDetails):
        return details.display_title, None
    show = details
    known = show.regular_season_numbers
    if not known:
        # Announced, or only "Specials": Overseerr's "all" would ask for season 0 alone
        # (Seerr's for nothing: its 202), so nothing is asked.
        raise Conflict("This show has no seasons to request yet.", details={"reason": "no_seasons"})
    states = show.season_states()
    free = [n for n in known if states.get(n) == "requestable"]
    if not isinstance(wanted.seasons, list):
        if not free:
            # Refused here with the true reason, not Overseerr's "already has a request".
            raise Conflict(
                "Every season of this show is already in Plex or requested.",
                details={"reason": "nothing_to_request", "seasons": states},
            )
        return show.display_title, free  # "all": the seasons still missing, by number
    unknown = [n for n in wanted.seasons if n not in known]
    if unknown:
        raise ValidationFailed(
            "The show has no such seasons.", details={"unknownSeasons": unknown, "seasons": known}
        )
    for state, words in (("available", "already in Plex"), ("requested", "already requested")):
        taken = [n for n in wanted.seasons if states.get(n) == state]
        if taken:
            label = "Season" if len(taken) == 1 else "Seasons"
            numbers = ", ".join(str(n) for n in taken)
            raise Conflict(
                f"{label} {numbers} {'is' if len(taken) == 1 else 'are'} {words}.",
                details={"reason": f"season_{state}", "seasons": taken},
            )
    return show.display_title, list(wanted.seasons)


async def list_requests(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID | None,
    status: str | None,
    page: int,
    page_size: int,
) -> tuple[list[MediaRequest], int]:
    """One page of requests, newest first; `owner_id` None means everyone's."""
    conditions = []
    if owner_id is not None:
        conditions.append(MediaRequest.user_id == owner_id)
    if status is not None:
        conditions.append(MediaRequest.status == status)
    # The total rides along each row (a window count over the filtered set): one round
    # trip instead of two on the hot list; a page past the end still needs the count.
    total_column = func.count().over().label("total")
    found = (
        await session.execute(
            select(MediaRequest, total_column)
            .where(*conditions)
            .order_by(MediaRequest.created_at.desc(), MediaRequest.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    ).all()
    if found:
        return [row for row, _ in found], int(found[0][1])
    if page == 1:
        return [], 0
    total = await session.scalar(select(func.count()).select_from(MediaRequest).where(*conditions))
    return [], int(total or 0)


async def get_request(session: AsyncSession, *, request_id: uuid.UUID) -> MediaRequest | None:
    return await session.get(MediaRequest, request_id)
