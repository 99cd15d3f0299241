"""The signed-in user's own Plex playlists (video), read with their token for this server:
private playlists belong to the account that made them, and Plex applies the account's
share and restrictions to their items. An admin without a Plex account (the bootstrap
admin) sees the owner account's playlists, as they browse as the owner
(`access.browsing_client`); anyone else without one has none here, never the owner's."""

from __future__ import annotations

from dataclasses import dataclass

from medianest.auth.models import User
from medianest.context import AppContext
from medianest.core.errors import NotFound
from medianest.integrations.http import UpstreamHTTPError
from medianest.integrations.plex import PlexClient
from medianest.integrations.plex_models import PlexItem, PlexPlaylist
from medianest.plex.access import server_token


@dataclass(frozen=True)
class PlaylistDetail:
    playlist: PlexPlaylist
    items: list[PlexItem]


async def client_for(ctx: AppContext, user: User, owner: PlexClient) -> PlexClient | None:
    """`user`'s own Plex client for this server (their playlists, their restrictions), or
    None when they have none: plex.tv gives their account no token for it (not shared
    with them), or a user who is not an admin has no Plex account at all."""
    if user.plex_token is None:
        return owner if user.is_admin else None
    token = await server_token(ctx, user)
    if token is None:
        return None
    client: PlexClient = await ctx.integrations.plex_for_token(token)
    return client


async def own_playlists(ctx: AppContext, user: User, owner: PlexClient) -> list[PlexPlaylist]:
    """An account without access to this server has no playlists on it: an empty list."""
    plex = await client_for(ctx, user, owner)
    if plex is None:
        return []
    return sorted(await plex.playlists(cached=True), key=lambda p: p.title.lower())


async def playlist_detail(
    ctx: AppContext, user: User, owner: PlexClient, playlist_id: int
) -> PlaylistDetail:
    plex = await client_for(ctx, user, owner)
    if plex is None:
        raise NotFound("No such playlist.")
    # Listing the account's own playlists first: another account's id is simply unknown.
    found = next(
        (p for p in await plex.playlists(cached=True) if p.rating_key == str(playlist_id)), None
    )
    if found is None:
        raise NotFound("No such playlist.")
    try:
        items = await plex.playlist_items(playlist_id)
    except UpstreamHTTPError as exc:
        if exc.upstream_status in (400, 404):
            raise NotFound("No such playlist.") from None
        raise
    return PlaylistDetail(found, items)
