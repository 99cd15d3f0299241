"""The Plex client for browsing (the configured server, read with the owner's token) and
the viewer whose rules filter what it returns."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from medianest.auth.dependencies import CurrentUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import ServiceUnavailable
from medianest.integrations.outcomes import outage_message
from medianest.integrations.plex import PlexClient
from medianest.plex import paths as plex_paths
from medianest.plex.privacy import Viewer


async def get_browsing_plex(user: CurrentUser, ctx: ContextDep) -> PlexClient:
    """Asked for after the caller is known, so anonymous callers get 401, not 503."""
    client = await ctx.integrations.plex()
    if client is None:
        raise ServiceUnavailable(
            outage_message("plex", "not configured"),
            details={"service": "plex", "reason": "not configured"},
        )
    return client


BrowsingPlex = Annotated[PlexClient, Depends(get_browsing_plex)]


async def get_viewer(user: CurrentUser, ctx: ContextDep, session: SessionDep) -> Viewer:
    """The caller, with the download root as Plex names it (to recognise downloads)."""
    paths = await plex_paths.load_path_map(session, settings=ctx.settings)
    return Viewer(user_id=user.id, sees_everything=user.is_admin, paths=paths)


PlexViewer = Annotated[Viewer, Depends(get_viewer)]
