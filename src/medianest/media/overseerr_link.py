"""Which Overseerr user a MediaNest user's requests are made as.

An admin's link (or their explicit "no link") is final. Without one, a Plex user is
linked, at their first request, to the Overseerr user imported from the same Plex
account: an exact Plex account id match only, never a username or an email (a stranger
can take either). At a request rather than at sign-in: sign-in never waits for
Overseerr, and a person Overseerr imports after they signed in is still found. No match,
or Overseerr unable to say: the request goes as the API key's admin, as before.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import OverseerrLink, User
from medianest.core.logging import get_logger
from medianest.integrations.overseerr import OverseerrClient
from medianest.platform import audit

log = get_logger(__name__)


async def requesting_overseerr_user(
    session: AsyncSession, *, overseerr: OverseerrClient, user: User
) -> int | None:
    """The Overseerr user id to request as (None: the API key's admin), linking the
    user automatically when nobody chose yet and Overseerr has their Plex account."""
    if user.overseerr_user_id is not None or user.overseerr_link == OverseerrLink.ADMIN:
        return user.overseerr_user_id
    plex_account = _plex_account_id(user)
    if plex_account is None:
        return None
    found = await overseerr.user_for_plex_account(plex_account)
    if found is None:
        return None
    # Read again, locked: the `user` may be the session cache's copy, and an admin's
    # choice saved meanwhile must win over this one.
    stored = await session.get(User, user.id, populate_existing=True, with_for_update=True)
    if stored is None:
        return None
    if stored.overseerr_link is not None or stored.overseerr_user_id is not None:
        return stored.overseerr_user_id
    stored.overseerr_user_id, stored.overseerr_link = found, OverseerrLink.AUTOMATIC
    audit.record(
        session,
        action="media.overseerr_user_linked",
        actor_id=stored.id,
        target=str(stored.id),
        details={"overseerrUserId": found, "by": "plex_account"},
    )
    log.info("overseerr_user_linked", user_id=str(stored.id), overseerr_user_id=found)
    return found


def _plex_account_id(user: User) -> int | None:
    """The user's plex.tv account id (Overseerr's `plexId`), for a Plex user."""
    if user.plex_id is None or not user.plex_id.isdigit():
        return None
    return int(user.plex_id)
