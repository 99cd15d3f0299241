"""The one duplicate rule: which of our requests still take a title, for search's
"requested" mark and for refusing a second request.

An open request (pending, approved, processing) takes its title (a show's: its seasons).
An `available` one takes it only while Overseerr still has it in Plex (AVAILABLE or
PARTIALLY_AVAILABLE; a show's season, AVAILABLE): once the title (or a season) left
Plex (UNKNOWN again after Overseerr's availability sync, DELETED in Seerr, or requested
anew and pending) or Overseerr keeps no media record of it, it can be asked for again,
as Overseerr and Seerr themselves allow. What Overseerr says now decides; nothing of
ours is rewritten: the fulfilled request stays `available` in its owner's history.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.integrations.overseerr_models import MediaInfo, MediaStatus
from medianest.media.models import MediaRequest, RequestStatus
from medianest.media.schemas import MediaRequestIn

# A title is taken while a request for it is in one of these states (by anyone), and
# Overseerr, for an `available` one, still has it in Plex (`held`).
ACTIVE_STATUSES = (
    RequestStatus.PENDING,
    RequestStatus.APPROVED,
    RequestStatus.PROCESSING,
    RequestStatus.AVAILABLE,
)
# Overseerr's word that a title (or season) is in Plex.
_IN_PLEX = (MediaStatus.AVAILABLE, MediaStatus.PARTIALLY_AVAILABLE)


def held(row: MediaRequest, media: MediaInfo | None) -> frozenset[int] | None:
    """What of its title `row` still takes, `media` being Overseerr's record of the title
    now: None (nothing), an empty set (the whole title) or the show's seasons."""
    seasons = frozenset(int(n) for n in row.seasons or ())
    if row.status != RequestStatus.AVAILABLE:
        return seasons
    if media is None:
        return None
    if not seasons:
        return seasons if media.status in _IN_PLEX else None
    status = {s.season_number: s.status for s in media.seasons}
    kept = frozenset(n for n in seasons if status.get(n) in _IN_PLEX)
    return kept or None


async def active_rows(
    session: AsyncSession, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], list[MediaRequest]]:
    """Our requests in an active status, by (media type, TMDB id), oldest first."""
    if not keys:
        return {}
    rows = await session.scalars(
        select(MediaRequest)
        .where(
            MediaRequest.tmdb_id.in_({tmdb for _, tmdb in keys}),
            MediaRequest.status.in_([s.value for s in ACTIVE_STATUSES]),
        )
        .order_by(MediaRequest.created_at)
    )
    found: dict[tuple[str, int], list[MediaRequest]] = {}
    for row in rows:
        found.setdefault((row.media_type, row.tmdb_id), []).append(row)
    return found


def holders(rows: Sequence[MediaRequest], media: MediaInfo | None) -> list[MediaRequest]:
    """The rows that still take their title (see `held`)."""
    return [row for row in rows if held(row, media) is not None]


async def duplicate(
    session: AsyncSession, wanted: MediaRequestIn, media: MediaInfo | None
) -> MediaRequest | None:
    """Our request that already takes what `wanted` asks for (for shows: an overlapping
    season), Overseerr's record of the title now being `media`."""
    key = (wanted.media_type, wanted.tmdb_id)
    for row in (await active_rows(session, [key])).get(key, []):
        seasons = held(row, media)
        if seasons is None:
            continue
        if wanted.media_type == "movie" or not isinstance(wanted.seasons, list) or not seasons:
            return row
        if set(wanted.seasons) & seasons:
            return row
    return None
