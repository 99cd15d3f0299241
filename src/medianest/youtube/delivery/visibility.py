"""Whether a user can see the Plex library their downloads go to ("the delivery library").

The owner often makes a "YouTube" library for MediaNest but shares only "Movies" and
"TV Shows" with friends (the usual choice when inviting). A friend's download would then
land where they can never look: the collection is in a library their share does not
include, and Plex lists a shared user only the items of the libraries shared with them
(`/library/sections` with their own server token; python-plexapi myplex.py
`MyPlexServerShare.sections()`), so a playlist made with their token of such items is
refused or empty.

So MediaNest asks before it accepts: `require_visible` refuses a non-admin's download or
subscription (409 `PLEX_LIBRARY_NOT_SHARED`, naming the library) when their own token's
library list — cached per token by `PlexClient` — lacks it. A scheduled check of an
existing subscription is not refused: its delivery asks again (`problem_for`, uncached) and
says so on the download. Admins browse and deliver as the owner and are never checked.
When Plex, plex.tv or the user's token cannot be asked, nothing is refused (the delivery
reports what goes wrong). The admin's list of accounts the library is not shared with
comes from plex.tv's `shared_servers` (`unshared_accounts`)."""

from __future__ import annotations

import asyncio
import uuid

from medianest.auth.models import User
from medianest.context import AppContext
from medianest.core.errors import Conflict, MediaNestError
from medianest.core.logging import get_logger
from medianest.db.engine import session_scope
from medianest.integrations.plex import PlexClient
from medianest.integrations.plex_models import PlexSection
from medianest.plex import access as plex_access
from medianest.plex import paths as plex_paths
from medianest.youtube.delivery import collection as plex_delivery
from medianest.youtube.downloads import files

log = get_logger(__name__)


class LibraryNotShared(Conflict):
    """The delivery library is not among the libraries shared with the user's Plex account."""

    code = "PLEX_LIBRARY_NOT_SHARED"
    default_message = "The Plex library for downloads is not shared with your Plex account."


def not_shared(title: str) -> LibraryNotShared:
    return LibraryNotShared(
        f'The Plex library "{title}" that downloads go to is not shared with your Plex '
        "account, so you could not see them in Plex. Ask the server's owner to share it "
        "with you (Plex: Settings → Manage Library Access).",
        details={"library": title, "reason": "library_not_shared"},
    )


async def delivery_library(
    ctx: AppContext, owner: PlexClient, user: User, *, cached: bool
) -> PlexSection:
    """The library `user`'s downloads are delivered to, as the owner's token lists it
    (the configured one, else the one holding the user's download folder: as
    `collection.find_section` chooses, from the owner's cached list when `cached`)."""
    async with session_scope(ctx.session_factory) as session:
        paths = await plex_paths.load_path_map(session, settings=ctx.settings)
    sections = (await owner.sections_snapshot(cached=cached)).value
    configured = plex_delivery.configured_section(ctx.settings, ctx.integrations)
    if configured:
        found = next((s for s in sections if s.key == configured), None)
        if found is None:
            raise plex_delivery.DeliveryFailed(f"Plex lists no library {configured}")
        return found
    folder = files.user_dir(ctx.settings.resolved_download_root, user.id)
    return plex_delivery.section_for(sections, paths.to_plex(folder))


async def problem_for(
    ctx: AppContext, user: User, *, cached: bool, section_key: str | None = None
) -> LibraryNotShared | None:
    """The refusal for `user` when their own Plex token cannot see the delivery library;
    None when it can, for admins, and when it cannot be told (Plex or plex.tv away, no
    token: the delivery itself then reports or falls back)."""
    if user.is_admin:
        return None
    owner = await plex_access.owner_client(ctx.integrations)
    if owner is None:
        return None
    try:
        token = await plex_access.lookup_server_token(ctx, user)
        if token is None:
            return None
        section = await delivery_library(ctx, owner, user, cached=cached)
        if section_key is not None and section.key != section_key:
            return None
        mine: PlexClient = await ctx.integrations.plex_for_token(token)
        visible = (await mine.sections_snapshot(cached=cached)).value
    except (MediaNestError, ValueError, plex_delivery.DeliveryFailed) as exc:
        log.info(
            "youtube_library_visibility_unknown", user_id=str(user.id), error=type(exc).__name__
        )
        return None
    if any(s.key == section.key for s in visible):
        return None
    log.info("youtube_library_not_shared", user_id=str(user.id), library=section.key)
    return not_shared(section.title)


async def require_visible(ctx: AppContext, user: User) -> None:
    """Refuse (409 `PLEX_LIBRARY_NOT_SHARED`) a download or subscription `user` could not
    see in Plex; from the per-token cache of their library list (no plex.tv call beyond
    the cached server-token lookup). A refusal is confirmed with Plex first: the owner
    may have just shared the library (the cached list would say no for a while)."""
    problem = await _bounded(ctx, user, confirm=True)
    if problem is not None:
        raise problem


async def notice(ctx: AppContext, user: User) -> str | None:
    """For the YouTube page: why this user's downloads would be refused, before they try
    (None when they are fine or it cannot be told); as `require_visible` decides."""
    problem = await _bounded(ctx, user, confirm=True)
    return problem.message if problem is not None else None


async def _bounded(ctx: AppContext, user: User, *, confirm: bool) -> LibraryNotShared | None:
    """`problem_for`, bounded by `MEDIANEST_HEALTH_CHECK_TIMEOUT_SECONDS`: a Plex that
    does not answer holds up no request and refuses nothing."""
    if user.is_admin:
        return None
    try:
        async with asyncio.timeout(ctx.settings.health_check_timeout_seconds):
            problem = await problem_for(ctx, user, cached=True)
            if problem is not None and confirm:
                problem = await problem_for(ctx, user, cached=False)
            return problem
    except TimeoutError:
        log.info("youtube_library_visibility_unknown", user_id=str(user.id), error="timeout")
        return None


async def unshared_accounts(ctx: AppContext, owner: PlexClient, section: PlexSection) -> list[str]:
    """Usernames of the accepted shares of this server that leave out `section` (plex.tv
    `/api/servers/{machineIdentifier}/shared_servers`, the owner's token)."""
    config = ctx.integrations.configs().get("plex")
    if config is None or not config.api_key:
        return []
    machine = await owner.machine_identifier()
    shares = await ctx.integrations.plextv().shared_servers(config.api_key, machine)
    return sorted(
        (s.username for s in shares if s.accepted and not s.includes(section.key)),
        key=str.casefold,
    )


async def note_for(ctx: AppContext, user_id: uuid.UUID, section_key: str) -> str | None:
    """Before a finished download is handed to Plex: the note for the download when its
    user can no longer see library `section_key` (asked fresh, not from the cache: the
    owner may have changed the share since the subscription was made)."""
    async with session_scope(ctx.session_factory) as session:
        user = await session.get(User, user_id)
    if user is None:
        return None
    problem = await problem_for(ctx, user, cached=False, section_key=section_key)
    return None if problem is None else f"Downloaded, but not delivered to Plex: {problem.message}"


async def viewer_for(ctx: AppContext, user_id: uuid.UUID) -> PlexClient | None:
    """A non-admin's own Plex, to ask whether their restrictions let them see what is
    delivered to them; None for admins (they browse as the owner) and when their server
    token cannot be had (the delivery goes on: nothing to tell)."""
    async with session_scope(ctx.session_factory) as session:
        user = await session.get(User, user_id)
    if user is None or user.is_admin:
        return None
    token = await plex_access.server_token(ctx, user)
    return None if token is None else await ctx.integrations.plex_for_token(token)


async def admin_view(
    ctx: AppContext, owner: PlexClient, holding: str | None
) -> tuple[str | None, list[str] | None]:
    """For the admin's Plex panel: the delivery library's title and who it is not shared
    with (None when there is no such library or plex.tv cannot be asked)."""
    key = plex_delivery.configured_section(ctx.settings, ctx.integrations) or holding
    section: PlexSection | None = None
    try:
        section = next((s for s in await owner.sections() if s.key == key), None)
        if section is None:
            return None, None
        return section.title, await unshared_accounts(ctx, owner, section)
    except MediaNestError as exc:
        log.info("youtube_library_audience_unknown", error=type(exc).__name__)
        return (section.title if section is not None else None), None
