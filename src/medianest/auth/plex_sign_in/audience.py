"""Who the configured Plex server is for, as plex.tv's `/api/users` lists it (asked with
the owner's token), kept in the cache under the server's configuration
(`Integrations.fingerprint`: another server or token is another audience).

One read gives both who is in (sign-in, `access.py`) and each account's restrictions
(`share_changes.py`), so the audience sweep asks plex.tv's user list once a round. It
lives below both users of it (`access` imports `share_changes`).
"""

from __future__ import annotations

import time
from typing import Any

from medianest.context import AppContext
from medianest.core.errors import ServiceUnavailable
from medianest.integrations.plextv import ServerAudience

_AUDIENCE_KEY = "plex-server-audience:{}"


async def _fetch_audience(ctx: AppContext) -> ServerAudience:
    integrations = ctx.integrations
    plex = await integrations.plex()
    config = integrations.configs().get("plex")
    if plex is None or config is None or not config.api_key:
        raise ServiceUnavailable(
            "Sign-in is limited to the Plex server's users, but no Plex server is connected "
            "yet. An administrator can connect it, or open sign-in to any Plex account.",
            details={"service": "plex", "reason": "not_configured"},
        )
    machine_identifier = await plex.machine_identifier()
    return await integrations.plextv().server_audience(config.api_key, machine_identifier)


async def audience_cache_key(ctx: AppContext) -> str | None:
    """Where the configured server's audience is kept (None: no Plex server configured)."""
    fingerprint = await ctx.integrations.fingerprint("plex")
    return _AUDIENCE_KEY.format(fingerprint) if fingerprint is not None else None


def _kept(cached: Any, max_age: float | None) -> ServerAudience | None:
    """The kept audience, or None for a miss: nothing kept, older than `max_age`, or kept
    by an older version in another shape (with the Home in it, or without the
    restrictions or the accounts without email) — those are asked again, never read half."""
    if not isinstance(cached, dict) or "withoutEmail" not in cached:
        return None
    try:
        if max_age is not None and time.time() - float(cached["fetchedAt"]) >= max_age:
            return None
        return ServerAudience(
            owner_id=int(cached["ownerId"]),
            shared_ids=frozenset(int(i) for i in cached["sharedIds"]),
            restrictions={
                int(i): tuple(str(f) for f in kept) for i, kept in cached["restrictions"]
            },
            machine_identifier=str(cached["machineIdentifier"]),
            without_email=frozenset(int(i) for i in cached["withoutEmail"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


async def server_audience(ctx: AppContext, *, max_age: float | None = None) -> ServerAudience:
    """The server's audience, from the cache unless it is older than `max_age` seconds
    (0: always ask plex.tv, and keep the answer)."""
    key = await audience_cache_key(ctx)
    kept = _kept(await ctx.cache.get(key), max_age) if key is not None else None
    if kept is not None:
        return kept
    audience = await _fetch_audience(ctx)
    if key != await audience_cache_key(ctx):
        return audience  # the server changed while plex.tv was asked: keep nothing
    assert key is not None
    await ctx.cache.set(
        key,
        {
            "ownerId": audience.owner_id,
            "sharedIds": sorted(audience.shared_ids),
            # pairs, not an object: JSON would turn the account ids into strings
            "restrictions": sorted([i, list(r)] for i, r in audience.restrictions.items()),
            "machineIdentifier": audience.machine_identifier,
            "withoutEmail": sorted(audience.without_email),
            "fetchedAt": time.time(),
        },
        ctx.settings.plex_audience_refresh_seconds * 2,
    )
    return audience
