"""Links that open an item in the Plex web app, looked up by the worker just before the
first send (the event's transaction never waits on Plex).

A notification that needs one carries `data["plex"] = {"title", "type"}`; once looked
up, `link` holds the URL (or the Plex web app's start page when no match is found).
The item is looked up in the notified user's own view of Plex (`viewer_plex`): a friend
gets a link only to what is in a library shared with them, never one Plex would refuse.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from medianest.auth.models import User
from medianest.context import AppContext
from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.integrations.plex import PlexClient
from medianest.notifications.models import Notification
from medianest.plex import access as plex_access

log = get_logger(__name__)

PLEX_TYPES = {"movie": "movie", "tv": "show", "show": "show"}


def plex_item_url(app_url: str, machine_identifier: str, rating_key: str | int) -> str:
    """The Plex web app page of one item, e.g. the movie a request asked for."""
    key = quote(f"/library/metadata/{rating_key}", safe="")
    return f"{app_url.rstrip('/')}/desktop/#!/server/{machine_identifier}/details?key={key}"


def plex_container_url(app_url: str, machine_identifier: str, kind: str, key: str) -> str:
    """The Plex web app page of a collection or a playlist (a download's home in Plex)."""
    base = f"{app_url.rstrip('/')}/desktop/#!/server/{machine_identifier}"
    if kind == "playlist":
        return f"{base}/playlist?key={quote(f'/playlists/{key}', safe='')}"
    return f"{base}/details?key={quote(f'/library/collections/{key}', safe='')}"


async def find_rating_key(plex: PlexClient, *, title: str, media_type: str) -> str | None:
    """The library item with this title and type (an exact title first, else the first
    of the type Plex's search ranks highest)."""
    wanted = PLEX_TYPES.get(media_type, media_type)
    hubs = await plex.search(title, limit=10)
    items = [item for hub in hubs for item in hub.items if item.type == wanted]
    exact = [item for item in items if item.title.casefold() == title.casefold()]
    best = (exact or items)[:1]
    return best[0].rating_key if best else None


async def viewer_plex(ctx: AppContext, user: User | None) -> PlexClient | None:
    """The Plex client a link for `user` is looked up with: their own view of the server,
    as they browse it (`access.browsing_client`: admins the owner's, everyone else their
    own token, so Plex searches only the libraries shared with them). None when Plex is
    not configured, the server is not shared with them, or plex.tv cannot be asked."""
    if user is None:
        return None
    try:
        return await plex_access.browsing_client(ctx, user)
    except MediaNestError as exc:
        log.info("notification_plex_view_unavailable", code=exc.code)
        return None


async def _container_link(plex: PlexClient, app_url: str, container: dict[str, Any]) -> str:
    """A download's playlist (the user's own) or collection, when they can open it."""
    kind, key = str(container.get("kind", "")), str(container.get("key", ""))
    if kind != "playlist" and await plex.metadata(key) is None:
        return f"{app_url.rstrip('/')}/desktop"
    return plex_container_url(app_url, await plex.machine_identifier(), kind, key)


async def resolve(ctx: AppContext, notification: Notification, user: User | None) -> None:
    """Fill `notification.link` from `data["plex"]` if that is still to do: a link to the
    item only when `user` can open it (found in their own view of Plex), else the Plex
    web app's start page."""
    data = notification.data or {}
    lookup: dict[str, Any] | None = data.get("plex")
    container: dict[str, Any] | None = data.get("plex_key")
    if notification.link or not (isinstance(lookup, dict) or isinstance(container, dict)):
        return
    app_url = ctx.settings.plex_app_url
    link = f"{app_url.rstrip('/')}/desktop"
    try:
        plex = await viewer_plex(ctx, user)
        if plex is not None and isinstance(container, dict):
            link = await _container_link(plex, app_url, container)
        elif plex is not None and isinstance(lookup, dict):
            rating_key = await find_rating_key(
                plex, title=str(lookup.get("title", "")), media_type=str(lookup.get("type", ""))
            )
            if rating_key is not None:
                link = plex_item_url(app_url, await plex.machine_identifier(), rating_key)
    except MediaNestError as exc:
        # Plex down, or refusing the user: the message still goes out, with the start page.
        log.warning("notification_plex_link_failed", code=exc.code)
    notification.link = link
    notification.data = {k: v for k, v in data.items() if k not in ("plex", "plex_key")}
