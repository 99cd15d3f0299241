"""The Plex client for browsing (the configured server, read with the viewer's own token,
or the owner's for admins: `access.browsing_client`), the owner's client (for the
caller's playlists, which pick their own token), and the viewer whose rules filter what
Plex returns."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from medianest.auth.dependencies import CurrentUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import ServiceUnavailable
from medianest.integrations.outcomes import outage_message
from medianest.integrations.plex import PlexClient
from medianest.plex import access
from medianest.plex import paths as plex_paths
from medianest.plex.privacy import Viewer


async def get_browsing_plex(user: CurrentUser, ctx: ContextDep) -> PlexClient:
    """Asked for after the caller is known, so anonymous callers get 401, not 503; a
    caller the server is not shared with gets 403 (`access.NotShared`)."""
    return await access.browsing_client(ctx, user)


BrowsingPlex = Annotated[PlexClient, Depends(get_browsing_plex)]


async def get_owner_plex(user: CurrentUser, ctx: ContextDep) -> PlexClient:
    """The owner's client, for what chooses its token itself (`playlists.client_for`)."""
    client = await ctx.integrations.plex()
    if client is None:
        raise ServiceUnavailable(
            outage_message("plex", "not configured"),
            details={"service": "plex", "reason": "not configured"},
        )
    return client


OwnerPlex = Annotated[PlexClient, Depends(get_owner_plex)]


async def get_viewer(user: CurrentUser, ctx: ContextDep, session: SessionDep) -> Viewer:
    """The caller, with the download root as Plex names it (to recognise downloads)."""
    paths = await plex_paths.load_path_map(session, settings=ctx.settings)

    async def token_refused() -> None:
        await access.forget_server_token(ctx, user)

    return Viewer(
        user_id=user.id, sees_everything=user.is_admin, paths=paths, token_refused=token_refused
    )


PlexViewer = Annotated[Viewer, Depends(get_viewer)]
