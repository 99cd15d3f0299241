"""Private delivery into Plex: a label `medianest:<username>` on each item and a playlist
owned by the user's own Plex account, so it shows in that user's Plex only.

Collections are visible to everyone who can see the library; playlists belong to the
account whose token created them. A user's token for *this* server is the
`accessToken` of the server's entry in plex.tv `/api/v2/resources` for the user's
plex.tv token; it is looked up once and cached (encrypted). The label lets the owner
hide the item from everybody else with Plex's share restrictions (docs/plex-and-downloads.md).

The shared collection stays available as a per-download choice (`delivery`), the admin
sets the default, and a user without a Plex token (the bootstrap admin), or whose
server token cannot be found, gets the collection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Literal, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import User
from medianest.context import AppContext
from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.db.engine import session_scope
from medianest.integrations.plex import PlexClient
from medianest.platform import stored_settings
from medianest.platform.models import SystemSetting
from medianest.plex.access import server_token
from medianest.youtube.delivery import collection as plex_delivery
from medianest.youtube.delivery.guard import DownloadGuard
from medianest.youtube.models import YoutubeDownload

log = get_logger(__name__)

Delivery = Literal["playlist", "collection"]
DEFAULT_DELIVERY_KEY = "youtube_default_delivery"
DEFAULT_DELIVERY: Delivery = "playlist"


class Deliver(Protocol):
    def __call__(
        self, plex: PlexClient, request: plex_delivery.DeliveryRequest
    ) -> Awaitable[plex_delivery.Delivered]: ...


def label_for(username: str) -> str:
    return f"medianest:{username}"


# --- the default and the per-download choice --------------------------------------------------
async def default_delivery(session: AsyncSession) -> Delivery:
    row = await session.get(SystemSetting, DEFAULT_DELIVERY_KEY)
    return "collection" if row is not None and row.value == "collection" else DEFAULT_DELIVERY


async def set_default_delivery(session: AsyncSession, value: Delivery) -> None:
    await stored_settings.save(session, DEFAULT_DELIVERY_KEY, value)


async def choose(session: AsyncSession, *, user: User, requested: str | None) -> Delivery:
    """What a new download of `user` gets: the request's choice, else the admin's default;
    a user with no Plex token cannot own a playlist and gets the collection."""
    chosen: Delivery = "collection" if requested == "collection" else "playlist"
    if requested is None:
        chosen = await default_delivery(session)
    return "collection" if user.plex_token is None else chosen


async def apply_choice(
    session: AsyncSession, *, job: YoutubeDownload, user: User, requested: str | None
) -> None:
    """Called right after a download was queued (same transaction)."""
    job.delivery = await choose(session, user=user, requested=requested)


# --- how the runner delivers -----------------------------------------------------------------
async def deliverer(ctx: AppContext, job: YoutubeDownload) -> Deliver:
    """How the runner hands `job` to Plex: the shared collection, or labels + playlist."""
    if job.delivery != "playlist":
        return plex_delivery.deliver
    async with session_scope(ctx.session_factory) as session:
        user = await session.get(User, job.user_id)
        token = await server_token(ctx, user) if user is not None else None
        if user is None or token is None:
            await session.execute(
                update(YoutubeDownload)
                .where(YoutubeDownload.id == job.id)
                .values(delivery="collection")
            )
            log.info("youtube_delivery_fell_back_to_collection", download_id=str(job.id))
            # Still labelled: the owner's label restrictions keep the items private.
            return _labelled_collection(user.username) if user else plex_delivery.deliver
        username = user.username
    user_plex: PlexClient = await ctx.integrations.plex_for_token(token)
    return _private(ctx, job, user_plex, username)


def _labelled_collection(username: str) -> Deliver:
    """The shared collection for someone who asked for privacy but has no server token."""

    async def deliver(
        plex: PlexClient, request: plex_delivery.DeliveryRequest
    ) -> plex_delivery.Delivered:
        delivered = await plex_delivery.deliver(plex, request)
        try:
            await _label(plex, request, username, wait_seconds=0)
        except MediaNestError as exc:
            raise plex_delivery.DeliveryFailed(f"Plex: {exc.message}") from exc
        return delivered

    return deliver


async def _label(
    plex: PlexClient,
    request: plex_delivery.DeliveryRequest,
    username: str,
    *,
    wait_seconds: float,
) -> list[str]:
    """Label the download's items `medianest:<username>` (rated and checked as every
    delivery's: `collection.ready_items`); returns their rating keys."""
    items = await plex_delivery.ready_items(plex, request, wait_seconds, label=label_for(username))
    return [item.rating_key for item in items]


def _private(
    ctx: AppContext, job: YoutubeDownload, user_plex: PlexClient, username: str
) -> Deliver:
    async def deliver(
        plex: PlexClient, request: plex_delivery.DeliveryRequest
    ) -> plex_delivery.Delivered:
        try:
            await plex.refresh_section(
                request.section_id, path=request.paths.to_plex(request.folder)
            )
            keys = await _label(plex, request, username, wait_seconds=request.wait_seconds)
            playlist_id = await _fill_playlist(ctx, job, user_plex, request.title, keys)
        except MediaNestError as exc:
            raise plex_delivery.DeliveryFailed(f"Plex: {exc.message}") from exc
        log.info("youtube_plex_playlist", playlist_id=playlist_id, items=len(keys))
        return plex_delivery.Delivered(
            request.existing_collection, len(keys), len(request.file_stems)
        )

    return deliver


async def _fill_playlist(
    ctx: AppContext, job: YoutubeDownload, plex: PlexClient, title: str, keys: Sequence[str]
) -> str:
    """Add to the playlist this download (or its subscription, or a same-titled one of the
    user) already has, else create it; records the playlist id on the download (or, when
    the download was deleted meanwhile, removes the playlist it made: `DownloadGone`)."""
    async with session_scope(ctx.session_factory) as session:
        known = await _known_playlist(session, job)
    own = {p.rating_key: p for p in await plex.playlists()}
    playlist_id = known if known in own else None
    if playlist_id is None:
        playlist_id = next((rk for rk, p in own.items() if p.title == title), None)
    made = playlist_id is None
    if playlist_id is None:
        playlist_id = (await plex.create_playlist(title, keys)).rating_key
    else:
        present = {item.rating_key for item in await plex.playlist_items(playlist_id)}
        missing = [k for k in keys if k not in present]
        if missing:
            await plex.add_to_playlist(playlist_id, missing)
    guard = DownloadGuard(ctx.session_factory, job.id)
    await guard.keep_playlist(plex, playlist_id, made=made)
    return playlist_id


async def _known_playlist(session: AsyncSession, job: YoutubeDownload) -> str | None:
    if job.plex_playlist_id:
        return job.plex_playlist_id
    if job.subscription_id is None:
        return None
    found: str | None = await session.scalar(
        select(YoutubeDownload.plex_playlist_id)
        .where(
            YoutubeDownload.subscription_id == job.subscription_id,
            YoutubeDownload.plex_playlist_id.is_not(None),
        )
        .order_by(YoutubeDownload.created_at.desc())
        .limit(1)
    )
    return found
