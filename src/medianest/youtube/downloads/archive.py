"""The per-user download archive: which videos a user already has (like yt-dlp's
`--download-archive`, but in the database, so every worker and instance shares it).

A row is written when an item finished downloading; subscriptions download only
entries whose key is not in the archive, and the quotas count these rows (with their
size). The key is the downloader's stable entry key (the YouTube video id, or the media
URL for other hosts). Unique per (user, key): writing twice is harmless.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.db.base import insert_for
from medianest.youtube.models import YoutubeArchiveEntry

MAX_KEY_LENGTH = 300
LOOKUP_CHUNK = 500


def archive_key(key: str) -> str:
    """Keys longer than the column (long media URLs) are cut; they stay unique enough."""
    return key[:MAX_KEY_LENGTH]


async def record(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    video_key: str,
    download_id: uuid.UUID | None,
    size: int,
) -> bool:
    """Remember that `user_id` has `video_key`; False when it was already known."""
    values = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "video_key": archive_key(video_key),
        "download_id": download_id,
        "bytes": max(0, int(size)),
    }
    insert = insert_for(session.get_bind().dialect)
    statement = (
        insert(YoutubeArchiveEntry)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["user_id", "video_key"])
    )
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def known_keys(session: AsyncSession, user_id: uuid.UUID, keys: Iterable[str]) -> set[str]:
    """The subset of `keys` already in `user_id`'s archive (as given, not truncated)."""
    by_stored: dict[str, list[str]] = {}
    for key in keys:
        by_stored.setdefault(archive_key(key), []).append(key)
    stored = list(by_stored)
    found: set[str] = set()
    for start in range(0, len(stored), LOOKUP_CHUNK):
        chunk = stored[start : start + LOOKUP_CHUNK]
        rows = await session.scalars(
            select(YoutubeArchiveEntry.video_key).where(
                YoutubeArchiveEntry.user_id == user_id, YoutubeArchiveEntry.video_key.in_(chunk)
            )
        )
        for key in rows:
            found.update(by_stored.get(key, []))
    return found
