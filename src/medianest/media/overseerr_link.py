"""Which Overseerr user a MediaNest user's requests are made as.

An admin's link (or their explicit "no link") is final. Without one, a Plex user is
linked, at their first request, to the Overseerr user imported from the same Plex
account: an exact Plex account id match only, never a username or an email (a stranger
can take either). At a request rather than at sign-in: sign-in never waits for
Overseerr, and a person Overseerr imports after they signed in is still found. No match:
Overseerr is asked to import them (overseerr_import.py), so the owner's default
permissions and quotas apply to them; refused or failed, nothing is requested. Only when
the admin chose "request as the admin" for such people (`overseerrNewPeople`), or for
people without a Plex account (password accounts, the bootstrap admin) or an admin's
"not linked", does the request go as the API key's admin.

The link is written in its own short unit of work, committed before Overseerr is asked
to make the request: no row stays locked across that call (an admin saving the user
meanwhile never waits for it), and the write is conditional, so a choice saved meanwhile
wins. An automatic link to a user Overseerr no longer has mends itself (nobody chose it).
It never takes an Overseerr user another account is linked to (`OverseerrUserTaken`):
two people would be one requester there; only an admin links two accounts to one user.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from medianest.auth.models import OverseerrLink, User
from medianest.context import AppContext
from medianest.core.errors import Conflict
from medianest.core.logging import get_logger
from medianest.db.engine import session_scope
from medianest.integrations.overseerr import OverseerrClient
from medianest.media import overseerr_import
from medianest.platform import audit

log = get_logger(__name__)

# pg_advisory_xact_lock's first key: links to one Overseerr user (the second: its id).
LINK_LOCK_SPACE = 0x6D6E6F6C  # "mnol"
TAKEN_MESSAGE = (
    "{name} user {found}, the one with your Plex account, is already linked to another "
    "MediaNest account. An admin must decide whose it is (Admin → Users: link one of "
    "you to another {name} user); nothing was requested."
)


class OverseerrUserTaken(Conflict):
    """The Overseerr user of this Plex account is linked to another account already (an
    admin's link: e.g. a local Overseerr user made for a managed Home user with a
    parent's email, which Overseerr's import then gives the parent's Plex account)."""

    code = "OVERSEERR_USER_TAKEN"


@dataclass(frozen=True)
class Requester:
    """The Overseerr user to request as (None: the API key's admin), and whether it was
    linked automatically (so MediaNest may replace it)."""

    overseerr_user_id: int | None
    automatic: bool


async def requesting_overseerr_user(
    ctx: AppContext, *, overseerr: OverseerrClient, user: User, import_missing: bool
) -> Requester:
    """The Overseerr user to request as, linking the user automatically when nobody
    chose yet and Overseerr has their Plex account, or (`import_missing`) imports it."""
    if user.overseerr_user_id is not None or user.overseerr_link == OverseerrLink.ADMIN:
        return Requester(user.overseerr_user_id, user.overseerr_link == OverseerrLink.AUTOMATIC)
    plex_account = _plex_account_id(user)
    if plex_account is None:
        return Requester(None, automatic=False)
    found = await overseerr.user_for_plex_account(plex_account)
    if found is None and import_missing:
        found = await overseerr_import.import_plex_user(ctx, overseerr, plex_account)
    if found is None:
        return Requester(None, automatic=False)
    return await _store_link(ctx, overseerr, user_id=user.id, stale=None, found=found)


async def heal_stale_link(
    ctx: AppContext,
    *,
    overseerr: OverseerrClient,
    user: User,
    stale: int,
    import_missing: bool,
) -> Requester:
    """After Overseerr said it no longer has the automatically linked user `stale`
    (deleted, or re-imported under a new id): the user looked up again in a list asked
    for now, or imported again (`import_missing`: Overseerr gives them a new id), and
    linked to the id found; else not linked (requests go as the API key's admin; the
    next request looks again). What is stored now is returned: a choice saved meanwhile
    stays, and `stale` again when that choice is the gone user."""
    plex_account = _plex_account_id(user)
    found = None
    if plex_account is not None:
        found = await overseerr.user_for_plex_account(plex_account, fresh=True)
        if found in (None, stale) and import_missing:
            found = await overseerr_import.import_plex_user(ctx, overseerr, plex_account)
    return await _store_link(
        ctx, overseerr, user_id=user.id, stale=stale, found=None if found == stale else found
    )


async def _store_link(
    ctx: AppContext,
    overseerr: OverseerrClient,
    *,
    user_id: uuid.UUID,
    stale: int | None,
    found: int | None,
) -> Requester:
    """Link `found` (None: no link) in place of nobody's choice (`stale` None) or of the
    automatic link to `stale`, unless the row says otherwise by now; committed at once.
    Never to an Overseerr user another account is linked to (`OverseerrUserTaken`)."""
    before = (None, None) if stale is None else (stale, OverseerrLink.AUTOMATIC)
    unchanged = (_same(User.overseerr_user_id, before[0]), _same(User.overseerr_link, before[1]))
    link = None if found is None else OverseerrLink.AUTOMATIC
    async with session_scope(ctx.session_factory) as session:
        guard: tuple[ColumnElement[bool], ...] = ()
        if found is not None:
            await lock_overseerr_user(session, found)
            other = aliased(User)
            taken = select(other.id).where(other.overseerr_user_id == found, other.id != user_id)
            guard = (~taken.exists(),)
        # Check and write in one statement: a separate check saw no link that a
        # concurrent request was about to write, and both were written.
        written = await session.scalar(
            update(User)
            .where(User.id == user_id, *unchanged, *guard)
            .values(overseerr_user_id=found, overseerr_link=link)
            .returning(User.id)
        )
        if written is None:
            row = (
                await session.execute(
                    select(User.overseerr_user_id, User.overseerr_link).where(User.id == user_id)
                )
            ).one_or_none()
            if row is None:
                return Requester(None, automatic=False)
            if found is not None and tuple(row) == before:  # nobody chose: it is taken
                await _refuse_taken(session, overseerr, user_id=user_id, found=found)
            return Requester(row[0], row[1] == OverseerrLink.AUTOMATIC)  # chosen meanwhile
        _audit(session, user_id=user_id, stale=stale, found=found)
    return Requester(found, automatic=found is not None)


def _same(column: Any, value: object) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value  # type: ignore[no-any-return]


async def lock_overseerr_user(session: AsyncSession, overseerr_user_id: int) -> None:
    """PostgreSQL: until this transaction ends, no other link to `overseerr_user_id`
    (automatic, or an admin's: admin/users/service.py) is written; the guarded write of
    an automatic link then sees the committed one. READ COMMITTED's NOT EXISTS alone sees
    neither a concurrent uncommitted link nor, so, the other account. SQLite needs none:
    its one writer at a time runs the guarded statement on the latest data."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :id)"),
            {"space": LINK_LOCK_SPACE, "id": overseerr_user_id},
        )


async def _refuse_taken(
    session: AsyncSession, overseerr: OverseerrClient, *, user_id: uuid.UUID, found: int
) -> None:
    """Two accounts linked to one Overseerr user would be one requester there (its
    quota, approvals, notifications): an automatic link never makes that; an admin does."""
    holder = await session.scalar(
        select(User.id).where(User.overseerr_user_id == found, User.id != user_id).limit(1)
    )
    log.warning(
        "overseerr_user_taken",
        user_id=str(user_id),
        overseerr_user_id=found,
        linked=None if holder is None else str(holder),
    )
    name = overseerr.http.display_name()
    raise OverseerrUserTaken(
        TAKEN_MESSAGE.format(name=name, found=found),
        details={"reason": "overseerr_user_linked_elsewhere", "overseerrUserId": found},
    )


def _audit(
    session: AsyncSession, *, user_id: uuid.UUID, stale: int | None, found: int | None
) -> None:
    if found is None:
        action, details = (
            "media.overseerr_user_unlinked",
            {"overseerrUserId": stale, "reason": "gone"},
        )
    else:
        action, details = (
            "media.overseerr_user_linked",
            {"overseerrUserId": found, "by": "plex_account"},
        )
        if stale is not None:
            details["replaced"] = stale
    audit.record(session, action=action, actor_id=user_id, target=str(user_id), details=details)
    log.info(
        action.removeprefix("media."), user_id=str(user_id), overseerr_user_id=found, stale=stale
    )


def _plex_account_id(user: User) -> int | None:
    """The user's plex.tv account id (Overseerr's `plexId`), for a Plex user."""
    if user.plex_id is None or not user.plex_id.isdigit():
        return None
    return int(user.plex_id)
