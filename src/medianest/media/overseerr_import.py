"""Bringing a Plex user Overseerr has no user for into Overseerr, as Overseerr itself
would: its "Import Plex Users" for their one Plex account (`POST /api/v1/user/
import-from-plex`, routes/user/index.ts). Overseerr creates the user only when its Plex
server is shared with that account (plextv.ts `getUsers` + `checkUserAccess`), with the
owner's default permissions (`settings.main.defaultPermissions`) and, with no quota of
their own, the default quotas (entity/User.ts `getQuota`); a user it already has (same
`plexId` or email) is not created again. So the owner's rules apply to them.

A managed Plex Home user (no email of their own; plex.tv lists them with `email=""`)
is skipped by that import even with a share (`if (account.email)`, sct/overseerr
server/routes/user/index.ts:506; the same in Seerr), so it can never add them: their
refusal says so, and what an admin can do instead (a local Overseerr user, linked by
hand), read from the same `/api/users` list MediaNest's sign-in keeps.

Its answer lists only the users it created, without `plexId` (`User.filterMany`): the id
asked for is the only one it may create, and when it created nobody the user list says
whether it has them now (already there, or made by a concurrent import).
"""

from __future__ import annotations

import httpx

from medianest.auth.plex_sign_in import audience as plex_audience
from medianest.context import AppContext
from medianest.core.errors import (
    Conflict,
    MediaNestError,
    PermissionDenied,
    ServiceUnavailable,
    UpstreamError,
)
from medianest.core.logging import get_logger
from medianest.integrations.overseerr import OverseerrClient
from medianest.integrations.overseerr_models import OverseerrUser, error_message
from medianest.integrations.overseerr_writes import OverseerrWritesBlocked

log = get_logger(__name__)

WHERE = "{name} → Users → Import Plex Users"
# The messages name the service as it is called here (Integrations.display_name).
NOT_IN_MESSAGE = (
    "{name} has no account for you and could not add you (its Plex server is not "
    f"shared with your Plex account). An admin must add you in {WHERE}; nothing was "
    "requested."
)
# Overseerr's Users → Create Local User needs an email: any address the admin chooses.
MANAGED_MESSAGE = (
    "Your Plex profile is a managed Plex Home user, without an email of its own, and "
    "{name} can only import Plex users with an email: its Import Plex Users skips you. "
    "An admin must create a user for you in {name} (Users → Create Local User) and enter "
    "its id as your {name} user in MediaNest (Admin → Users); nothing was requested."
)
# The database's words for it, matched lower-cased: SQLite's (Overseerr's only database,
# Seerr's default), and PostgreSQL's (Seerr's other) naming the user table's unique email
# (seerr-team/seerr server/migration/postgres/1734786061496-InitialMigration.ts:47
# `CONSTRAINT "UQ_e12875dfb3b1d92d7d7c5377e22" UNIQUE ("email")`): not any duplicate key.
EMAIL_TAKEN = (
    "unique constraint failed: user.email",
    'duplicate key value violates unique constraint "uq_e12875dfb3b1d92d7d7c5377e22"',
)
EMAIL_TAKEN_MESSAGE = (
    "{name} could not add you: its Import Plex Users stops at a Plex user whose email "
    "another {name} user already has (a Plex email changed to that of a local user). An "
    "admin must change one of the two emails in {name} (Users → the user); nothing was "
    "requested."
)
IMPORT_FAILED_MESSAGE = (
    "MediaNest could not add you to {name} just now, so nothing was requested. "
    "Try again in a few minutes."
)


class NotInOverseerr(PermissionDenied):
    """Overseerr has no user for this Plex account and would not import it: its Plex
    server is not shared with them (another server, a share removed, a Plex Home member
    without a share), or a user with their email has another Plex account."""

    code = "NOT_IN_OVERSEERR"
    default_message = NOT_IN_MESSAGE.format(name="Overseerr")


class OverseerrImportBlocked(Conflict):
    """Overseerr's import stops at a Plex user it would give an email another of its
    users has (entity/User.ts: `email` is unique; routes/user/index.ts:518 copies the
    Plex email, :546 answers the save's error as 500; Seerr's :618, :647): every import
    fails the same way until an admin changes one of the two in Overseerr; trying again
    does not help. Recognized in SQLite's and PostgreSQL's words (`EMAIL_TAKEN`)."""

    code = "OVERSEERR_IMPORT_BLOCKED"


class OverseerrImportFailed(ServiceUnavailable):
    """Overseerr could not be asked to import the person now (down, slow, its breaker
    open, or its own error reaching plex.tv): nothing was requested; try again later."""

    code = "OVERSEERR_IMPORT_FAILED"
    default_message = IMPORT_FAILED_MESSAGE.format(name="Overseerr")


async def import_plex_user(
    ctx: AppContext, overseerr: OverseerrClient, plex_account_id: int
) -> int:
    """The id of the Overseerr user for `plex_account_id` after asking Overseerr to
    import it; one import per account at a time in this process (two tabs ask once).
    Raises `NotInOverseerr`, `OverseerrImportBlocked`, `OverseerrImportFailed` or
    `OverseerrWritesBlocked`."""
    try:
        return await overseerr.imports.run(
            plex_account_id, lambda: _import(overseerr, plex_account_id)
        )
    except NotInOverseerr:
        if await _listed_without_email(ctx, plex_account_id):
            name = overseerr.http.display_name()
            raise NotInOverseerr(
                MANAGED_MESSAGE.format(name=name), details={"reason": "managed_plex_user"}
            ) from None
        raise


async def _listed_without_email(ctx: AppContext, plex_account_id: int) -> bool:
    """Whether plex.tv's `/api/users` (asked now) lists the account without an email, as
    Overseerr's import read it; unknown (no Plex server, plex.tv failing) is False."""
    try:
        audience = await plex_audience.server_audience(ctx, max_age=0)
    except MediaNestError as exc:
        log.info("overseerr_import_listing_unknown", error=exc.message)
        return False
    return plex_account_id in audience.without_email


async def _import(overseerr: OverseerrClient, plex_account_id: int) -> int:
    failed = IMPORT_FAILED_MESSAGE.format(name=overseerr.http.display_name())
    try:
        response = await overseerr.import_from_plex(plex_account_id)
        created = [] if response.status_code == 500 else _created(overseerr, response.json())
    except OverseerrWritesBlocked:
        raise
    except (ServiceUnavailable, UpstreamError, ValueError) as exc:
        # A timeout may still have created them: the next request's import finds them.
        log.warning("overseerr_import_failed", plex_account=plex_account_id, error=str(exc))
        raise OverseerrImportFailed(failed, details={"reason": "unavailable"}) from None
    if len(created) == 1:  # only the id asked for can be created
        log.info("overseerr_user_imported", plex_account=plex_account_id, user_id=created[0])
        return created[0]
    found = await overseerr.user_for_plex_account(plex_account_id, fresh=True)
    if found is not None:
        return found
    if response.status_code == 500 or not overseerr.user_list_known:
        # Its own error (plex.tv out of its reach, Plex not set up, a concurrent import's
        # unique email), or its user list unable to say whether it has them now.
        why = _why(response)
        log.warning("overseerr_import_unsettled", plex_account=plex_account_id, error=why)
        if why is not None and any(words in why.lower() for words in EMAIL_TAKEN):
            message = EMAIL_TAKEN_MESSAGE.format(name=overseerr.http.display_name())
            raise OverseerrImportBlocked(message, details={"reason": "email_taken"})
        raise OverseerrImportFailed(failed, details={"reason": "overseerr_error"})
    log.info("overseerr_import_not_shared", plex_account=plex_account_id)
    message = NOT_IN_MESSAGE.format(name=overseerr.http.display_name())
    raise NotInOverseerr(message, details={"reason": "not_a_plex_user_of_overseerr"})


def _why(response: httpx.Response) -> str | None:
    try:
        return error_message(response.json())
    except ValueError:
        return None


def _created(overseerr: OverseerrClient, body: object) -> list[int]:
    if not isinstance(body, list):
        raise ValueError("import answer is not a list")
    return [overseerr.http.parse(OverseerrUser, item).id for item in body]
