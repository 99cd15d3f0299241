"""What a download made in Plex (its collection, its private playlist) never outlives it.

A download can be deleted while its worker is delivering it. Each side acts on what it
can see, and the database orders them: the worker records the id of what it made with an
UPDATE of the record (`DownloadGuard`), the deleting request deletes the record with
DELETE ... RETURNING and removes the ids it returns (`remove_after_delete`). Whichever
statement comes second sees the first: an UPDATE after the DELETE finds no record, and
the worker removes what it made; a DELETE after the UPDATE returns the id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from medianest.auth.models import User
from medianest.context import AppContext
from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.db.engine import after_commit, session_scope
from medianest.integrations.plex import PlexClient
from medianest.plex.access import owner_client, server_token
from medianest.youtube.models import YoutubeDownload

log = get_logger(__name__)


class DownloadGone(Exception):
    """The download was deleted while it was being delivered; what the delivery made in
    Plex for it was removed again."""


@dataclass(frozen=True)
class DownloadGuard:
    """Records on a download what its delivery made in Plex, or removes that again when
    the download no longer exists (raising `DownloadGone`)."""

    session_factory: async_sessionmaker[AsyncSession]
    download_id: uuid.UUID

    async def keep_collection(self, plex: PlexClient, collection_id: str, *, made: bool) -> None:
        """`made`: this delivery created the collection (one it only extended stays)."""
        if await self._record(plex_collection_id=collection_id):
            return
        if made and not await self._referenced(YoutubeDownload.plex_collection_id, collection_id):
            await remove_collection(plex, collection_id)
        raise self._gone("collection")

    async def keep_playlist(self, plex: PlexClient, playlist_id: str, *, made: bool) -> None:
        """`plex` is the user's own client (a playlist belongs to the account that made it)."""
        if await self._record(plex_playlist_id=playlist_id):
            return
        if made and not await self._referenced(YoutubeDownload.plex_playlist_id, playlist_id):
            await remove_playlist_with(plex, playlist_id)
        raise self._gone("playlist")

    async def _record(self, **values: str) -> bool:
        statement = (
            update(YoutubeDownload)
            .where(YoutubeDownload.id == self.download_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        async with session_scope(self.session_factory) as session:
            result = await session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def _referenced(self, column: InstrumentedAttribute[str | None], plex_id: str) -> bool:
        """Whether another download (a same-titled one found it meanwhile) fills it too."""
        async with session_scope(self.session_factory) as session:
            return await _referenced(session, column, plex_id)

    def _gone(self, kind: str) -> DownloadGone:
        log.info("youtube_plex_delivery_undone", download_id=str(self.download_id), made=kind)
        return DownloadGone(f"the download was deleted; its Plex {kind} was not kept")


async def remove_after_delete(
    session: AsyncSession,
    *,
    ctx: AppContext,
    user_id: uuid.UUID,
    collection_id: str | None,
    playlist_id: str | None,
) -> None:
    """Called with the ids the record's DELETE returned: once that committed, remove the
    collection and the playlist unless another download still fills them."""
    collection = (
        collection_id
        if collection_id
        and not await _referenced(session, YoutubeDownload.plex_collection_id, collection_id)
        else None
    )
    playlist = (
        playlist_id
        if playlist_id
        and not await _referenced(
            session, YoutubeDownload.plex_playlist_id, playlist_id, user_id=user_id
        )
        else None
    )
    user = await session.get(User, user_id) if playlist else None
    if collection is None and (playlist is None or user is None):
        return

    async def remove() -> None:
        plex = await owner_client(ctx.integrations) if collection else None
        if plex is not None and collection is not None:
            await remove_collection(plex, collection)
        if user is not None and playlist is not None:
            await remove_playlist(ctx, user, playlist)

    after_commit(session, remove)


async def remove_collection(plex: PlexClient, collection_id: str) -> None:
    try:
        await plex.delete_collection(collection_id)
    except MediaNestError as exc:
        log.warning("youtube_plex_collection_not_removed", error=exc.code)


async def remove_playlist(ctx: AppContext, user: User, playlist_id: str) -> None:
    """Delete a download's private playlist (best effort, with the user's token)."""
    token = await server_token(ctx, user)
    if token is None:
        return
    try:
        client: PlexClient = await ctx.integrations.plex_for_token(token)
    except MediaNestError as exc:
        log.info("youtube_playlist_not_removed", error=exc.code)
        return
    await remove_playlist_with(client, playlist_id)


async def remove_playlist_with(plex: PlexClient, playlist_id: str) -> None:
    try:
        await plex.delete_playlist(playlist_id)
    except MediaNestError as exc:
        log.info("youtube_playlist_not_removed", error=exc.code)


async def _referenced(
    session: AsyncSession,
    column: InstrumentedAttribute[str | None],
    plex_id: str,
    *,
    user_id: uuid.UUID | None = None,
) -> bool:
    statement = select(YoutubeDownload.id).where(column == plex_id).limit(1)
    if user_id is not None:
        statement = statement.where(YoutubeDownload.user_id == user_id)
    return await session.scalar(statement) is not None
