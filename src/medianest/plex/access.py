"""How MediaNest reaches the configured Plex server: the owner's client, and a user's own
token for it (the `accessToken` of the server's entry in plex.tv `/api/v2/resources` for
the user's plex.tv token), looked up once and cached encrypted. The user's playlists
(`playlists.py`) and the YouTube private delivery use it."""

from __future__ import annotations

from medianest.auth.models import User
from medianest.context import AppContext
from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.integrations.plex import PlexClient
from medianest.integrations.registry import Integrations

log = get_logger(__name__)

SERVER_TOKEN_TTL = 6 * 3600.0


async def owner_client(integrations: Integrations) -> PlexClient | None:
    """The owner's Plex client when Plex is configured (None otherwise)."""
    client = await integrations.plex()
    return client if isinstance(client, PlexClient) else None


async def server_token(ctx: AppContext, user: User) -> str | None:
    """`user`'s access token for the configured Plex server, or None (cached, encrypted)."""
    if user.plex_token is None:
        return None
    server = await ctx.integrations.fingerprint("plex")
    if server is None:
        return None
    # A token is for one server: kept under the configured server's fingerprint, so a
    # switch of server looks the user's token for the new one up. (The key's prefix, and
    # the log line below, are from when this lived in youtube/.)
    key = f"youtube:plex-server-token:{server}:{user.id}"
    cached = await ctx.cache.get(key)
    if isinstance(cached, str):
        try:
            return ctx.secret_box.decrypt(cached, context="plex_server_token")
        except ValueError:
            await ctx.cache.delete(key)
    integrations = ctx.integrations
    owner = await owner_client(integrations)
    if owner is None:
        return None
    try:
        machine = await owner.machine_identifier()
        plex_tv_token = ctx.secret_box.decrypt(user.plex_token, context="plex_token")
        resources = await integrations.plextv().resources(plex_tv_token)
    except (MediaNestError, ValueError) as exc:
        log.info("youtube_server_token_unavailable", user_id=str(user.id), error=type(exc).__name__)
        return None
    token = next(
        (r.access_token for r in resources if r.client_identifier == machine and r.access_token),
        None,
    )
    if token is not None:
        sealed = ctx.secret_box.encrypt(token, context="plex_server_token")
        await ctx.cache.set(key, sealed, ttl_seconds=SERVER_TOKEN_TTL)
    return token
