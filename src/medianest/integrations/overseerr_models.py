"""Typed shapes of Overseerr API v1 answers, and its status numbers mapped to our names.

Models ignore fields we do not use, so a newer Overseerr (or Jellyseerr) still parses.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from medianest.integrations.upstream_model import UpstreamModel

TMDB_POSTER_BASE = "https://image.tmdb.org/t/p/w300"


# Overseerr's and TMDB's ids are positive and fit 32 bits, as the integer columns that keep
# them do (PostgreSQL's `integer`): any other id is an answer MediaNest does not understand,
# never a value to hand the database. Request bodies and webhooks hold ids to the same bound.
MAX_ID = 2**31 - 1
OverseerrId = Annotated[int, Field(gt=0, le=MAX_ID)]


class OverseerrModel(UpstreamModel):
    """An answer of Overseerr (integrations/upstream_model.py)."""


class RequestStatus(IntEnum):
    """`MediaRequest.status` (server/constants/media.ts). COMPLETED is Seerr's (Overseerr
    v1.34 stops at FAILED): its media became AVAILABLE, or DELETED (MediaSubscriber.ts)."""

    PENDING = 1
    APPROVED = 2
    DECLINED = 3
    FAILED = 4
    COMPLETED = 5


class MediaStatus(IntEnum):
    """`Media.status` (server/constants/media.ts). Overseerr v1.34 stops at AVAILABLE;
    Seerr adds BLOCKLISTED (an admin keeps the title from being requested; BLACKLISTED
    up to v2.7.3) and DELETED (gone from Plex after it was there: availabilitySync.ts)."""

    UNKNOWN = 1
    PENDING = 2
    PROCESSING = 3
    PARTIALLY_AVAILABLE = 4
    AVAILABLE = 5
    BLOCKLISTED = 6
    DELETED = 7


class OverseerrStatus(OverseerrModel):
    version: str
    commit_tag: str | None = None
    update_available: bool = False
    restart_required: bool = False


class OverseerrUser(OverseerrModel):
    id: OverseerrId
    email: str | None = None
    username: str | None = None
    display_name: str | None = None
    # The Plex account id of a user imported from Plex (null for a local user); Overseerr
    # shows it (and `email`) only to a caller with MANAGE_USERS, as the API key's admin.
    plex_id: int | None = None


class SeasonStatus(OverseerrModel):
    id: int | None = None
    season_number: int
    status: int = MediaStatus.UNKNOWN


class OverseerrMedia(OverseerrModel):
    id: OverseerrId
    media_type: str | None = None
    tmdb_id: OverseerrId
    tvdb_id: int | None = None
    status: int = MediaStatus.UNKNOWN
    status4k: int = MediaStatus.UNKNOWN
    rating_key: str | None = None
    seasons: list[SeasonStatus] = Field(default_factory=list)


class RequestSeason(OverseerrModel):
    id: int | None = None
    season_number: int
    status: int = RequestStatus.PENDING


class OverseerrRequest(OverseerrModel):
    """A MediaRequest; `media` is absent when embedded in a search result's `mediaInfo`."""

    id: OverseerrId
    status: int
    type: Literal["movie", "tv"] | None = None
    is4k: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    requested_by: OverseerrUser | None = None
    seasons: list[RequestSeason] = Field(default_factory=list)
    media: OverseerrMedia | None = None


# Request statuses Overseerr's duplicate check passes over (entity/MediaRequest.ts: DECLINED,
# Overseerr 166-170, 256-262; Seerr also COMPLETED, 173-178, 398-405). Any other status,
# FAILED and a number a newer server adds included, still holds the title.
CLOSED_REQUEST_STATUSES = (RequestStatus.DECLINED, RequestStatus.COMPLETED)
# Season statuses that leave a season free (MediaRequest.ts: UNKNOWN, Overseerr 272-284;
# Seerr also DELETED, 415-429); PARTIALLY_AVAILABLE, PENDING, PROCESSING... take it.
FREE_SEASON_STATUSES = (MediaStatus.UNKNOWN, MediaStatus.DELETED)


class MediaInfo(OverseerrMedia):
    """`mediaInfo` of search results and details: the media plus its requests."""

    requests: list[OverseerrRequest] = Field(default_factory=list)

    def holding_requests(self) -> list[OverseerrRequest]:
        """The title's requests a new (non-4K) request is checked against, as Overseerr
        checks them: the non-4K ones (a 4K request is its own, `request.is4k`) not closed
        (`CLOSED_REQUEST_STATUSES`)."""
        return [r for r in self.requests if not r.is4k and r.status not in CLOSED_REQUEST_STATUSES]


class _Result(OverseerrModel):
    id: OverseerrId
    overview: str | None = None
    poster_path: str | None = None
    popularity: float | None = None
    media_info: MediaInfo | None = None

    @property
    def poster_url(self) -> str | None:
        return f"{TMDB_POSTER_BASE}{self.poster_path}" if self.poster_path else None


class MovieResult(_Result):
    media_type: Literal["movie"] = "movie"
    title: str
    original_title: str | None = None
    release_date: str | None = None

    @property
    def display_title(self) -> str:
        return self.title

    @property
    def year(self) -> int | None:
        return _year(self.release_date)


class TvResult(_Result):
    media_type: Literal["tv"] = "tv"
    name: str
    original_name: str | None = None
    first_air_date: str | None = None

    @property
    def display_title(self) -> str:
        return self.name

    @property
    def year(self) -> int | None:
        return _year(self.first_air_date)


class PersonResult(OverseerrModel):
    media_type: Literal["person"] = "person"
    id: int
    name: str | None = None  # dropped from the results anyway
    profile_path: str | None = None


SearchResult = Annotated[MovieResult | TvResult | PersonResult, Field(discriminator="media_type")]
KINDS = ("movie", "tv", "person")


class SearchPage(OverseerrModel):
    page: int
    total_pages: int
    total_results: int
    results: list[SearchResult]

    @field_validator("results", mode="before")
    @classmethod
    def _known_kinds(cls, value: Any) -> Any:
        """Movies, shows and people only: a result of another kind (Seerr's models/Search.ts
        knows `collection`; a newer server may add more) is left out, not a failed search."""
        if isinstance(value, list):
            return [r for r in value if not isinstance(r, dict) or r.get("mediaType") in KINDS]
        return value


class PageInfo(OverseerrModel):
    pages: int
    page_size: int
    results: int
    page: int


class RequestPage(OverseerrModel):
    page_info: PageInfo
    results: list[OverseerrRequest]


class UserPage(OverseerrModel):
    """`GET /api/v1/user` (routes/user/index.ts): users by id, `take`/`skip` paging."""

    page_info: PageInfo
    results: list[OverseerrUser]


SeasonState = Literal["available", "requested", "requestable", "blocklisted"]


class TvSeason(OverseerrModel):
    season_number: int
    episode_count: int | None = None
    name: str | None = None


class MovieDetails(MovieResult):
    pass


class TvDetails(TvResult):
    number_of_seasons: int | None = None
    seasons: list[TvSeason] = Field(default_factory=list)

    @property
    def regular_season_numbers(self) -> list[int]:
        """Season numbers a user can request (season 0, "Specials", is not one)."""
        return sorted(s.season_number for s in self.seasons if s.season_number > 0)

    def season_states(self) -> dict[int, SeasonState]:
        """Each regular season: in Plex (AVAILABLE, or PARTIALLY_AVAILABLE: some of its
        episodes), asked for, free to request, or (the whole show, Seerr) blocklisted.

        As Overseerr decides which seasons a new request gets (MediaRequest.ts, Overseerr
        247-291, Seerr 383-436): a season is taken by a holding request
        (`MediaInfo.holding_requests`: not 4K, not declined or completed) or by any
        status of its own but UNKNOWN or DELETED (`FREE_SEASON_STATUSES`); Overseerr
        drops taken seasons without a word, and answers 202 when none is left."""
        media = self.media_info
        if media is not None and media.status == MediaStatus.BLOCKLISTED:
            return dict.fromkeys(self.regular_season_numbers, "blocklisted")
        seasons = {s.season_number: s.status for s in (media.seasons if media else [])}
        asked = {n for n, status in seasons.items() if status not in FREE_SEASON_STATUSES}
        for request in media.holding_requests() if media else []:
            asked.update(s.season_number for s in request.seasons)
        in_plex = (MediaStatus.AVAILABLE, MediaStatus.PARTIALLY_AVAILABLE)
        return {
            n: "available"
            if seasons.get(n) in in_plex
            else "requested"
            if n in asked
            else "requestable"
            for n in self.regular_season_numbers
        }


# --- our names for Overseerr's numbers ------------------------------------------------------
LocalStatus = Literal[
    "pending", "approved", "declined", "processing", "available", "failed", "removed"
]


def local_status(
    request_status: int,
    media_status: int | None,
    *,
    seasons_available: bool = False,
    seasons_deleted: bool = False,
) -> LocalStatus:
    """Our status of a request: the request decides unless approved, then the media does.

    `seasons_available` says every season the request asked for is available (a TV
    request is fulfilled even while the show as a whole is only partially available);
    `seasons_deleted` that Seerr marks every one of them DELETED.

    Seerr's own states: an open request of a title an admin blocklisted will never be
    fulfilled, so it is `declined`; a COMPLETED request whose media (or every requested
    season) is DELETED left Plex again (Seerr completes on DELETED too: its
    MediaSubscriber.ts), so it is `removed`, never "now available in Plex".
    """
    if request_status == RequestStatus.DECLINED:
        return "declined"
    if request_status == RequestStatus.FAILED:
        return "failed"
    if media_status == MediaStatus.BLOCKLISTED and request_status in (
        RequestStatus.PENDING,
        RequestStatus.APPROVED,
    ):
        return "declined"
    if request_status == RequestStatus.PENDING:
        return "pending"
    if request_status == RequestStatus.COMPLETED and (
        media_status == MediaStatus.DELETED or seasons_deleted
    ):
        return "removed"
    if request_status == RequestStatus.COMPLETED or media_status == MediaStatus.AVAILABLE:
        return "available"
    if seasons_available:
        return "available"
    if media_status in (MediaStatus.PROCESSING, MediaStatus.PARTIALLY_AVAILABLE):
        return "processing"
    return "approved"


def request_local_status(request: OverseerrRequest) -> LocalStatus | None:
    """`local_status` of a full MediaRequest (with its media and season statuses); None
    for a request status this version does not know (a newer server's): nothing is
    guessed from it, callers keep what they have."""
    if request.status not in {s.value for s in RequestStatus}:
        return None
    media = request.media
    seasons_available = seasons_deleted = False
    if media is not None and request.seasons:
        wanted = {s.season_number for s in request.seasons}
        status = {s.season_number: s.status for s in media.seasons}
        seasons_available = all(status.get(n) == MediaStatus.AVAILABLE for n in wanted)
        seasons_deleted = all(status.get(n) == MediaStatus.DELETED for n in wanted)
    return local_status(
        request.status,
        media.status if media is not None else None,
        seasons_available=seasons_available,
        seasons_deleted=seasons_deleted,
    )


# Webhook `notification_type` → the request status it reports (None: not about a request).
NOTIFICATION_REQUEST_STATUS: dict[str, RequestStatus] = {
    "MEDIA_PENDING": RequestStatus.PENDING,
    "MEDIA_AUTO_REQUESTED": RequestStatus.PENDING,
    "MEDIA_APPROVED": RequestStatus.APPROVED,
    "MEDIA_AUTO_APPROVED": RequestStatus.APPROVED,
    "MEDIA_AVAILABLE": RequestStatus.COMPLETED,
    "MEDIA_DECLINED": RequestStatus.DECLINED,
    "MEDIA_FAILED": RequestStatus.FAILED,
}
MEDIA_STATUS_BY_NAME: dict[str, MediaStatus] = {s.name: s for s in MediaStatus} | {
    "BLACKLISTED": MediaStatus.BLOCKLISTED  # `{{media_status}}` of Seerr up to v2.7.3
}


def _year(date: str | None) -> int | None:
    if date and len(date) >= 4 and date[:4].isdigit():
        return int(date[:4])
    return None


def error_message(body: Any) -> str | None:
    """Overseerr's `{message}` from an error body, if there is one."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:300]
    return None
