"""What a new request may still ask for in the Overseerr simulator: the duplicate rule of
`MediaRequest.request` (server/entity/MediaRequest.ts), line for line.

Read at sct/overseerr@46a9b244 (v1.34) and seerr-team/seerr@f74306ed:

- A film (Overseerr 155-195, Seerr 162-203): the title's requests of the same `is4k`,
  the first of them (`getMany()` with no order: the oldest, by id, as SQLite returns
  them) decides: unless it is DECLINED (Seerr: nor COMPLETED), 409 "Request for this
  media already exists.". The media's status is not read: a film in Plex that nobody
  requested (found by the Plex scan) is requested again (201), and so, on Seerr, is one
  whose request was COMPLETED.
- A show (Overseerr 247-297, Seerr 383-442): `"all"` is every TMDB season, season 0
  ("Specials") included on Overseerr, left out on Seerr, which also drops a season 0
  asked for by number unless `enableSpecialEpisodes` (off by default, settings 405); a
  season asked for by number is not checked against TMDB. Taken, and silently dropped:
  the seasons of the title's requests of the same `is4k` not DECLINED (Seerr: nor
  COMPLETED), FAILED ones included, and every season whose media status (`status4k` for
  4K) is not UNKNOWN (Seerr: nor DELETED): PARTIALLY_AVAILABLE ones too. Nothing left:
  202 "No seasons available to request".
"""

from __future__ import annotations

from collections.abc import Callable

from medianest_simulators.overseerr_data import (
    APPROVED,
    AVAILABLE,
    COMPLETED,
    DECLINED,
    DELETED,
    FAILED,
    MANAGE_REQUESTS,
    MEDIA_PENDING,
    PARTIALLY_AVAILABLE,
    PENDING,
    PROCESSING,
    REQUESTABLE_SEASON,
    UNKNOWN,
    Media,
    MediaRequest,
    User,
)
from medianest_simulators.overseerr_permissions import OverseerrPermissions, has_permission

REQUEST_VIEW = 16384  # server/lib/permissions.ts


class OverseerrRequestRules(OverseerrPermissions):
    """The duplicate checks of `POST /api/v1/request`."""

    def _closed(self) -> tuple[int, ...]:
        """Request statuses that no longer hold their title."""
        return (DECLINED, COMPLETED) if self.seerr else (DECLINED,)

    def _same_kind(self, media: Media, is4k: bool) -> list[MediaRequest]:
        found = (r for r in self.media_requests.values() if r.media is media and r.is4k == is4k)
        return sorted(found, key=lambda r: r.id)

    def movie_taken(self, media: Media, is4k: bool) -> bool:
        """Whether a new film request is the 409 duplicate (only the oldest one counts)."""
        existing = self._same_kind(media, is4k)
        return bool(existing) and existing[0].status not in self._closed()

    def seasons_left(self, media: Media, wanted: list[int], is4k: bool) -> list[int]:
        """The seasons of `wanted` a new request gets, the others dropped."""
        if self.seerr:
            wanted = [n for n in wanted if n > 0]  # enableSpecialEpisodes off
        closed = self._closed()
        taken = {
            n for r in self._same_kind(media, is4k) if r.status not in closed for n in r.seasons
        }
        statuses = media.season_status4k if is4k else media.season_status
        taken |= {n for n, status in statuses.items() if status not in REQUESTABLE_SEASON}
        return sorted({n for n in wanted if n not in taken})

    def list_filter(self, name: str | None) -> Callable[[MediaRequest], bool] | None:
        """`GET /api/v1/request`'s `filter` (routes/request.ts, Overseerr 38-116, Seerr
        43-139): the request statuses and the media statuses (`status4k` for a 4K
        request) it lets through; None for a name the OpenAPI document does not allow
        (Seerr adds `completed` and `deleted`). On Seerr `available` means COMPLETED
        requests, on Overseerr APPROVED ones; the default leaves out Seerr's BLOCKLISTED
        media (and, on Overseerr, has no COMPLETED or DELETED to let through)."""
        if name is not None and name not in (SEERR_FILTER_NAMES if self.seerr else FILTER_NAMES):
            return None
        statuses = REQUEST_FILTERS.get(name or "all", (PENDING, APPROVED, DECLINED, FAILED))
        if self.seerr:
            statuses = SEERR_REQUEST_FILTERS.get(name or "all", (*statuses, COMPLETED))
        media = MEDIA_FILTERS.get(name or "all", ANY_MEDIA)
        return lambda r: (
            r.status in statuses and (r.media.status4k if r.is4k else r.media.status) in media
        )

    def sees_every_request(self, caller: User) -> bool:
        """MANAGE_REQUESTS or REQUEST_VIEW: the list is everyone's; else only the caller's
        own, and asking for another user's (`requestedBy`) is routes/request.ts's 403
        (Overseerr 118-138, Seerr 141-161)."""
        return has_permission(caller.permissions, [MANAGE_REQUESTS, REQUEST_VIEW], "or")


FILTER_NAMES = ("all", "approved", "available", "pending", "processing", "unavailable", "failed")
SEERR_FILTER_NAMES = (*FILTER_NAMES, "deleted", "completed")
REQUEST_FILTERS: dict[str, tuple[int, ...]] = {
    "approved": (APPROVED,),
    "processing": (APPROVED,),
    "available": (APPROVED,),
    "pending": (PENDING,),
    "unavailable": (PENDING, APPROVED),
    "failed": (FAILED,),
}
SEERR_REQUEST_FILTERS: dict[str, tuple[int, ...]] = {
    **REQUEST_FILTERS,
    "available": (COMPLETED,),
    "completed": (COMPLETED,),
    "deleted": (COMPLETED,),
}
NOT_IN_PLEX = (UNKNOWN, MEDIA_PENDING, PROCESSING, PARTIALLY_AVAILABLE)
ANY_MEDIA = (*NOT_IN_PLEX, AVAILABLE, DELETED)  # DELETED is Seerr's only
MEDIA_FILTERS: dict[str, tuple[int, ...]] = {
    "available": (AVAILABLE,),
    "processing": NOT_IN_PLEX,
    "unavailable": NOT_IN_PLEX,
    "deleted": (DELETED,),
}
