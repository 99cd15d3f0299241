"""The Plex client for browsing: the configured server, read with the owner's token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from medianest.auth.dependencies import CurrentUser
from medianest.core.deps import ContextDep
from medianest.core.errors import ServiceUnavailable
from medianest.integrations.plex import PlexClient
from medianest.integrations.registry import get_integrations


async def get_browsing_plex(user: CurrentUser, ctx: ContextDep) -> PlexClient:
    """Asked for after the caller is known, so anonymous callers get 401, not 503."""
    client = await get_integrations(ctx).plex()
    if client is None:
        raise ServiceUnavailable(
            "Plex is not configured.", details={"service": "plex", "reason": "not configured"}
        )
    return client


BrowsingPlex = Annotated[PlexClient, Depends(get_browsing_plex)]
