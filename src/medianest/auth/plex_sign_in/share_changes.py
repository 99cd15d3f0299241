"""Following the owner's changes to who gets which libraries, for what MediaNest keeps.

Shared users browse with their own token, and what Plex answered them is kept per token
(`PlexClient`, `MEDIANEST_PLEX_LIBRARY_CACHE_SECONDS`, and as the last good answer while
Plex is down). When the owner narrows a share — removes "Home Videos" from a friend's
libraries but keeps the friend (python-plexapi myplex.py `updateFriend(sections=)`) —
the friend's token stays valid, so nothing refuses it: the kept library list and pages
of the removed library would go on being served. So the audience sweep (every
`MEDIANEST_PLEX_AUDIENCE_REFRESH_SECONDS`) also reads plex.tv's
`/api/servers/{machineIdentifier}/shared_servers` (each account's shared library keys)
and takes each account's restrictions (`filterMovies=contentRating=G%2CPG`, labels...,
which Plex applies to that account's token: a restriction added to a kid's account
narrows what the same token reads just as a library taken out does) from the audience
the round just read (`/api/users`, `audience.py`: one answer serves sign-in's list and
this) and, when
either differs from what it saw last, marks the shares changed
(`plex_marks.LibraryMarks.shares_changed`): every shared user's kept answers from before
are dropped — all of them, as plex.tv gives no server token to tell whose scope is
whose, and shares change rarely — and the owner's are untouched. Two plex.tv calls per
sweep round for both steps (`/api/users` and `shared_servers`, plus the owner's account),
none per request. A refusal from Plex itself drops the refused answer at once
(`integrations/http.py`, `REFUSALS`).

It also publishes `PlexSharesChanged` (auth/events.py) for the features that wait for a
share: a download left undelivered because its library was not shared with its user is
delivered again (youtube/jobs/redelivery.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from medianest.auth.events import PlexSharesChanged
from medianest.auth.plex_sign_in.audience import server_audience
from medianest.context import AppContext
from medianest.core.events import publish
from medianest.core.logging import get_logger
from medianest.db.engine import session_scope
from medianest.integrations.plex import PlexClient
from medianest.integrations.plextv import ServerAudience, ServerShare

log = get_logger(__name__)

_SEEN_KEY = "plex-shares-seen:{}"
SEEN_TTL = 7 * 86400.0


def shares_digest(
    shares: list[ServerShare], restrictions: Mapping[int, tuple[str, ...]] | None = None
) -> str:
    """What the shares give whom, with each account's restrictions, in a stable form
    (order of plex.tv's rows aside)."""
    rows = sorted(
        (s.username, s.accepted, None if s.section_keys is None else sorted(s.section_keys))
        for s in shares
    )
    limits = sorted((restrictions or {}).items())
    return hashlib.sha256(repr((rows, limits)).encode()).hexdigest()


async def follow_share_changes(ctx: AppContext, *, audience: ServerAudience | None = None) -> bool:
    """Read the server's shares; when they or the accounts' restrictions changed since
    the last read (or none was kept), drop the shared users' kept Plex answers and publish
    `PlexSharesChanged`. True when they changed. The restrictions are the `audience`'s
    (the sweep round's fresh read); without one, or one of another server, plex.tv is
    asked now, as the round would."""
    integrations = ctx.integrations
    owner = await integrations.plex()
    config = integrations.configs().get("plex")
    fingerprint = await integrations.fingerprint("plex")
    if (
        not isinstance(owner, PlexClient)
        or config is None
        or not config.api_key
        or fingerprint is None
    ):
        return False
    machine = await owner.machine_identifier()
    plextv = integrations.plextv()
    if audience is None or audience.machine_identifier != machine:
        audience = await server_audience(ctx, max_age=0)
    shares = await plextv.shared_servers(config.api_key, machine)
    digest = shares_digest(shares, audience.restrictions)
    key = _SEEN_KEY.format(fingerprint)
    if await ctx.cache.get(key) == digest:
        return False
    await owner.marks.shares_changed()  # before the digest is kept: a crash marks again
    async with session_scope(ctx.session_factory) as session:
        await publish(session, PlexSharesChanged())
    await ctx.cache.set(key, digest, SEEN_TTL)
    log.info("plex_shares_changed")
    return True
