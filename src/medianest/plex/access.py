"""How MediaNest reaches the configured Plex server: the owner's client, and a user's own
token for it (the `accessToken` of the server's entry in plex.tv `/api/v2/resources` for
the user's plex.tv token), looked up once and cached encrypted. Browsing
(`browsing_client`), the user's playlists (`playlists.py`) and the YouTube private
delivery use it.

Browsing goes through the viewer's own token so that Plex itself applies what the owner
shared with them: a friend shared only "Movies" gets only Movies from `/library/sections`
and a 401 for any other library's items, collections, metadata and images (python-plexapi
myplex.py `MyPlexServerShare.sections()`, `inviteFriend(sections=)`), and the owner's
restrictions on the account (`filterMovies`, labels...) apply too. The owner's token would
see every library, the family's photos included."""

from __future__ import annotations

from medianest.auth.models import User
from medianest.context import AppContext
from medianest.core.errors import MediaNestError, PermissionDenied, ServiceUnavailable
from medianest.core.logging import get_logger
from medianest.core.single_flight import SingleFlight
from medianest.integrations.http import UpstreamHTTPError
from medianest.integrations.outcomes import outage_message
from medianest.integrations.plex import PlexClient
from medianest.integrations.registry import Integrations

log = get_logger(__name__)

SERVER_TOKEN_TTL = 6 * 3600.0
# "plex.tv lists no access for this account" is remembered this long (not asked per page).
NO_ACCESS_TTL = 60.0
_LOOKUPS: SingleFlight[str | None] = SingleFlight()
NOT_SHARED = (
    "This Plex server is not shared with your Plex account. Ask the server's owner to share "
    "its libraries with you (Plex: Settings → Manage Library Access)."
)


class NotShared(PermissionDenied):
    """The viewer's Plex account has no access to the configured server (any more)."""

    code = "PLEX_NOT_SHARED"
    default_message = NOT_SHARED


async def owner_client(integrations: Integrations) -> PlexClient | None:
    """The owner's Plex client when Plex is configured (None otherwise)."""
    client = await integrations.plex()
    return client if isinstance(client, PlexClient) else None


def _token_key(server: str, user: User) -> str:
    # A token is for one server: kept under the configured server's fingerprint, so a
    # switch of server looks the user's token for the new one up. (The key's prefix is
    # from when this lived in youtube/.)
    return f"youtube:plex-server-token:{server}:{user.id}"


async def server_token(ctx: AppContext, user: User) -> str | None:
    """`user`'s access token for the configured Plex server, or None (cached, encrypted);
    None too while plex.tv cannot be asked."""
    try:
        return await lookup_server_token(ctx, user)
    except (MediaNestError, ValueError) as exc:
        log.info("youtube_server_token_unavailable", user_id=str(user.id), error=type(exc).__name__)
        return None


async def lookup_server_token(ctx: AppContext, user: User) -> str | None:
    """As `server_token`, but an outage of plex.tv (or of Plex, asked its identity) is
    raised, not taken for "not shared"; a plex.tv token plex.tv refuses is no access."""
    if user.plex_token is None:
        return None
    server = await ctx.integrations.fingerprint("plex")
    if server is None:
        return None
    key = _token_key(server, user)
    known, token = await _kept(ctx, key)
    if known:
        return token
    # A page's posters ask at once when the kept token has just expired: one plex.tv call.
    return await _LOOKUPS.run(key, lambda: _kept_or_ask(ctx, user, key))


async def _kept(ctx: AppContext, key: str) -> tuple[bool, str | None]:
    """(True, the kept token), (True, None) when "no access" is kept, (False, None) when
    neither is: plex.tv must be asked."""
    cached = await ctx.cache.get(key)
    if isinstance(cached, str):
        try:
            return True, ctx.secret_box.decrypt(cached, context="plex_server_token")
        except ValueError:
            await ctx.cache.delete(key)
    return await ctx.cache.get(key + ":none") is not None, None


async def _kept_or_ask(ctx: AppContext, user: User, key: str) -> str | None:
    """Looked at again once in the flight: a request that missed the cache just before
    another's flight stored the token and ended would otherwise ask plex.tv again."""
    known, token = await _kept(ctx, key)
    return token if known else await _ask_plextv(ctx, user, key)


async def _ask_plextv(ctx: AppContext, user: User, key: str) -> str | None:
    """The token from plex.tv's resources for `user` (kept under `key`), or None."""
    integrations = ctx.integrations
    owner = await owner_client(integrations)
    if owner is None or user.plex_token is None:
        return None
    machine = await owner.machine_identifier()
    plex_tv_token = ctx.secret_box.decrypt(user.plex_token, context="plex_token")
    try:
        resources = await integrations.plextv().resources(plex_tv_token)
    except UpstreamHTTPError as exc:
        if exc.upstream_status != 401:
            raise
        resources = []  # plex.tv refuses their token: they reach no server
    token = next(
        (r.access_token for r in resources if r.client_identifier == machine and r.access_token),
        None,
    )
    if token is None:
        await ctx.cache.set(key + ":none", True, ttl_seconds=NO_ACCESS_TTL)
        return None
    sealed = ctx.secret_box.encrypt(token, context="plex_server_token")
    await ctx.cache.set(key, sealed, ttl_seconds=SERVER_TOKEN_TTL)
    return token


async def forget_server_token(ctx: AppContext, user: User) -> None:
    """Plex refused the cached token (the share was removed): the next use asks plex.tv."""
    server = await ctx.integrations.fingerprint("plex")
    if server is not None:
        await ctx.cache.delete(_token_key(server, user))
        await ctx.cache.delete(_token_key(server, user) + ":none")


async def browsing_client(ctx: AppContext, user: User) -> PlexClient:
    """The Plex client `user` browses the library with — the one place this is decided.

    Admins (the password-only bootstrap admin included) browse as the owner: they see
    every library, as they manage the server. Everyone else browses with their own token
    for this server, so Plex shows them only what is shared with them; without one
    (plex.tv lists no access for their account: never or no longer shared, or no Plex
    account) they are refused (`NotShared`), never shown the owner's view. Answers are
    cached per token (`PlexClient` cache scope), so one viewer's never reach another."""
    owner = await owner_client(ctx.integrations)
    if owner is None:
        raise ServiceUnavailable(
            outage_message("plex", "not configured"),
            details={"service": "plex", "reason": "not configured"},
        )
    if user.is_admin:
        return owner
    try:
        token = await lookup_server_token(ctx, user)
    except ValueError:  # a stored token this key cannot open: as no token
        token = None
    if token is None:
        raise NotShared(details={"service": "plex", "reason": "not_shared"})
    client: PlexClient = await ctx.integrations.plex_for_token(token)
    return client
