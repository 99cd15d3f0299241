"""The content rating MediaNest gives downloaded videos, and whether the person a delivery
is for can see its items with their own Plex token.

YouTube downloads have no content rating (jmbannon/ytdl-sub#1157), and Plex applies a
share's restrictions to that account's own token: a content-rating allow list
(`filterMovies="contentRating=G%2CPG"`, python-plexapi myplex.py `updateFriend`) admits
only items carrying one of those ratings, so a kid's account sees none of its own
downloads. The admin can name a rating (system setting `youtube_content_rating`; none by
default: Plex's none is left); every delivery then sets it, locked so Plex's agents keep
it, on the download's items and on the collection it fills, before they are added
(python-plexapi mixins.py `ContentRatingMixin.editContentRating` → `editField`, sent as
library.py `LibrarySection._edit`: `PUT /library/sections/{id}/all?type=&id=
&contentRating.value=&contentRating.locked=1`). When the person's own token still cannot
see the items, nothing is added and the download says why (`Hidden`). A change of the
setting gives the new rating to the downloads already delivered too, in the background
(youtube/jobs/rerating.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.core.logging import get_logger
from medianest.integrations import plex_edits
from medianest.integrations.plex import PlexClient
from medianest.integrations.plex_models import PlexItem
from medianest.platform import stored_settings
from medianest.platform.models import SystemSetting

log = get_logger(__name__)

KEY = "youtube_content_rating"
LABEL = "Content rating given to downloaded videos"
MAX_LENGTH = 32
# Plex's ratings: G, PG-13, TV-Y7, gb/12A, de/FSK 12, 16+. No `,` `|` `&` `=` `%`: they
# separate the values and conditions of a share's filter, which could then never match it.
_RATING = re.compile(r"\w[\w +\-./:]*")
RULE = (
    f"A content rating is a letter or digit, then letters, digits, spaces or - + . / : "
    f"(at most {MAX_LENGTH} characters), like G, PG-13 or TV-Y7."
)
NOTE = "Downloaded, but not delivered to Plex: your Plex account's restrictions hide these videos"


def check(value: str) -> str:
    """`value` when it may be given to items ("" clears it); ValueError otherwise."""
    if value and (len(value) > MAX_LENGTH or not _RATING.fullmatch(value)):
        raise ValueError(RULE)
    return value


class StoredRating(BaseModel):
    rating: str

    @field_validator("rating")
    @classmethod
    def _valid(cls, value: str) -> str:
        return check(value)


async def load(session: AsyncSession) -> str | None:
    """The admin's rating for downloaded videos; None when unset (or no longer valid)."""
    row = await session.get(SystemSetting, KEY)
    stored = stored_settings.validated(KEY, row.value if row else None, StoredRating)
    return stored.rating if stored is not None and stored.rating else None


async def save(session: AsyncSession, value: str) -> bool:
    """Store the rating ("" clears it); whether it changed."""
    changed = (await load(session) or "") != value
    await stored_settings.save(session, KEY, StoredRating(rating=check(value)).model_dump())
    return changed


class Hidden(Exception):
    """The person's own Plex token does not see the delivered items; the message is the
    download's note."""


def hidden(rating: str | None) -> Hidden:
    if rating is None:
        return Hidden(
            f"{NOTE}. YouTube videos have no content rating, so an account allowed only some "
            f'ratings sees none of them. An admin can set "{LABEL}" (Admin → Plex and '
            "downloads) to a rating your account may watch; they are delivered then."
        )
    return Hidden(
        f'{NOTE}, even with the content rating "{rating}" they are given. An admin can set '
        f'"{LABEL}" (Admin → Plex and downloads) to a rating your account may watch, or '
        "change your account's restrictions in Plex (Settings → Manage Library Access), "
        "then deliver them again."
    )


async def give(
    plex: PlexClient, section_id: str, items: Sequence[PlexItem], rating: str | None
) -> None:
    """Set `rating` (locked) on `items`, one edit per item type; nothing when None."""
    if rating is None or not items:
        return
    by_type: dict[str, list[str]] = {}
    for item in items:
        by_type.setdefault(plex_edits.item_type(item.type), []).append(item.rating_key)
    edits = plex_edits.content_rating(rating)
    for item_type, keys in by_type.items():
        await plex.edit_items(section_id, plex_edits.query(item_type, keys, edits))


async def give_collection(
    plex: PlexClient, section_id: str, collection_id: str, rating: str | None
) -> None:
    """Set `rating` on the collection too: one without a rating is left out by an allow
    list (python-plexapi collection.py: a `Collection` has `ContentRatingMixin`)."""
    if rating is not None:
        edits = plex_edits.content_rating(rating)
        await plex.edit_items(section_id, plex_edits.query("collection", [collection_id], edits))


async def require_seen(
    viewer: PlexClient | None, items: Sequence[PlexItem], rating: str | None
) -> None:
    """Raise `Hidden` when `viewer` (the person's own token; None: the owner, or not
    known) cannot open the download's items, as Plex answers that token (uncached). One
    item is asked for: they are one download's, in one folder, with the same rating and
    labels, so a restriction admits all or none (a 200-item playlist is not 200 calls)."""
    if viewer is None or not items:
        return
    first = items[0]
    if await viewer.metadata(first.rating_key) is None:
        log.info("youtube_delivery_hidden_by_restrictions", rating_key=first.rating_key)
        raise hidden(rating)
