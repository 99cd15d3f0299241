"""Delivering again what a finished download could not deliver to Plex.

A download of a user who cannot see the delivery library completes with its files in
the library but not in their collection or playlist, and a note saying so
(`visibility.note_for`); one whose delivery Plex failed completes the same way. Such a
download is `plex_pending`. When something changes that may make the delivery possible,
its `plex_due_at` is set and a download worker delivers it again, as it would have:

- the owner changes the shares: the audience sweep publishes `PlexSharesChanged`
  (auth/plex_sign_in/share_changes.py), which `youtube/subscribers.py` answers with
  `mark_due` in the sweep's own transaction — so the mark is in the database, seen by
  every worker of every process, with or without Redis;
- the admin asks for it ("Deliver again", `mark_due` for one user, workers woken);
- the admin changes the content rating given to downloaded videos (`set_content_rating`:
  a user's restrictions may have hidden the items without one);
- Plex failed the last try: due again as soon as the status monitor sees Plex answer
  again (`subscribers.plex_reachable_again` → `due_claim.mark_outage_due`, composed in
  `app.subscribe_to_events` on the dashboard's `ServicesChanged`, in the monitor's own
  transaction: a delivery waiting for a share, a content rating or a library to hold its
  folder has no time to come and is left alone), and at the latest one sweep period
  later (`handoff.retry_after_outage`: an outage shorter than a status round is not seen).

Workers look for due deliveries at every turn of their loop (`deliver_due`). One worker
takes a download at a time: the claim is an UPDATE guarded by `plex_claimed_until` (a
lease: a worker that dies mid-delivery leaves it to another once it runs out; the rules
shared with rerating.py live in due_claim.py). A delivery
that fails again keeps the note, and is not tried again before the next change (or, for
a Plex outage, Plex seen answering again or the next period): never in a loop. A change heard while a worker delivers
leaves the download due, so the change is not lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import User
from medianest.context import AppContext
from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.db.engine import after_commit, session_scope
from medianest.platform import audit
from medianest.youtube.delivery import handoff, ratings
from medianest.youtube.jobs import due_claim, rerating, waiting
from medianest.youtube.jobs.progress import PROGRESS_EVENT, Emit, JobView
from medianest.youtube.jobs.signals import queue_signals
from medianest.youtube.models import DownloadStatus, JobItem, YoutubeDownload

log = get_logger(__name__)

# A claim outlives any one delivery: the scan wait twice, and the Plex calls around it.
LEASE_MARGIN_SECONDS = 120.0
MAX_PER_TURN = 50


def _lease_seconds(ctx: AppContext) -> float:
    return 2 * ctx.settings.plex_scan_wait_seconds + LEASE_MARGIN_SECONDS


# A pending delivery of a completed download, one at a time.
DUE = due_claim.DueClaim(
    event="youtube_redelivery_due",
    due=YoutubeDownload.plex_due_at,
    claimed_until=YoutubeDownload.plex_claimed_until,
    lease=_lease_seconds,
    batch=1,
    tries=None,  # others took the candidate first: on to the next one
    waiting=(
        YoutubeDownload.plex_pending.is_(True),
        YoutubeDownload.status == DownloadStatus.COMPLETED.value,
    ),
)


def final_note(plex_note: str | None, items: Sequence[JobItem]) -> str | None:
    """A completed download's note: why Plex did not get it (else how many items
    failed), and which items wait for a stream."""
    failed = sum(1 for i in items if i.state == "failed")
    note = plex_note or (f"{failed} of {len(items)} items failed" if failed else None)
    return "; ".join(n for n in (note, waiting.note(list(items))) if n) or None


async def mark_due(session: AsyncSession, *, user_id: uuid.UUID | None = None) -> int:
    """Make the pending deliveries (of `user_id`, or everyone's) due now; how many."""
    mine = [YoutubeDownload.user_id == user_id] if user_id is not None else []
    marked = await due_claim.mark_due(session, DUE, *mine)
    if marked:
        log.info("youtube_redelivery_due", downloads=marked, user_id=user_id and str(user_id))
    return marked


@dataclass(frozen=True)
class Undelivered:
    """A user with completed downloads not delivered to Plex yet (the admin's panel)."""

    user_id: uuid.UUID
    username: str
    downloads: int


async def undelivered(session: AsyncSession) -> list[Undelivered]:
    """Who has downloads waiting for a delivery, and how many, by name."""
    rows = await session.execute(
        select(User.id, User.username, func.count(YoutubeDownload.id))
        .join(YoutubeDownload, YoutubeDownload.user_id == User.id)
        .where(
            YoutubeDownload.plex_pending.is_(True),
            YoutubeDownload.status == DownloadStatus.COMPLETED.value,
        )
        .group_by(User.id, User.username)
    )
    found = [Undelivered(user_id, name, int(count)) for user_id, name, count in rows]
    return sorted(found, key=lambda u: u.username.casefold())


async def deliver_again(
    session: AsyncSession, *, ctx: AppContext, user: User, by: audit.Actor
) -> int:
    """The admin's "Deliver again" for `user` (after sharing the library or mending Plex
    by other means than a share): their pending deliveries are due now and the workers
    are woken once this commits; how many. Audited."""
    marked = await mark_due(session, user_id=user.id)
    audit.record(
        session,
        action="youtube.redeliver",
        actor_id=by.id,
        target=f"user:{user.id}",
        details={"downloads": marked},
        ip=by.ip,
    )
    if marked:
        after_commit(session, queue_signals(ctx).job_added)
    return marked


async def set_content_rating(session: AsyncSession, *, ctx: AppContext, value: str) -> int:
    """The admin's content rating for downloaded videos ("" clears it). A change makes
    every pending delivery due (one a rating hid from its user may now be seen) and wakes
    the workers once it is committed; how many."""
    if not await ratings.save(session, value):
        return 0
    await rerating.rating_changed(session, ctx=ctx, rating=value or None)  # delivered ones
    marked = await mark_due(session)
    if marked:
        after_commit(session, queue_signals(ctx).job_added)
    return marked


async def deliver_due(ctx: AppContext, emit: Emit) -> int:
    """Deliver the due pending downloads this worker can claim; how many it delivered.
    With no Plex configured nothing is claimed: they stay due until there is one. Nor
    while this process's breaker for Plex refuses calls: Plex may be back (another
    instance saw it), and a delivery refused here would wait a whole sweep period; the
    breaker's next probe, after its reset time, is then a delivery (due_claim.py)."""
    delivered = 0
    async with aclosing(due_claim.claims(ctx, DUE, most=MAX_PER_TURN)) as claims:
        async for claimed in claims:
            (job,) = claimed.jobs
            try:
                handed = await handoff.hand_to_plex(
                    ctx,
                    job,
                    folder=Path(job.folder or ""),
                    title=job.title or Path(job.folder or "").name,
                    stems=handoff.stems_of(job),
                )
            except MediaNestError as exc:  # plex.tv or Plex failing outside the delivery
                note = f"{handoff.NOT_UPDATED}: {exc.message}"
                handed = handoff.Handed(
                    job.plex_collection_id, note, True, handoff.retry_after_outage(ctx)
                )
            if await _settle(ctx, claimed, handed) and not handed.pending:
                delivered += 1
                await _tell(emit, job)
    return delivered


async def _settle(ctx: AppContext, claim: due_claim.Claim, handed: handoff.Handed) -> bool:
    """Store what the delivery did, if this worker still holds the download. Delivered:
    no longer pending, the note gone. Not: the new note; due again if a change came in
    meanwhile (its mark is newer than the claim), else at the outage's retry time, else
    at the next change."""
    (job,) = claim.jobs
    values = due_claim.released(DUE, claim, handed.retry_at)
    if handed.pending:
        values["error"] = final_note(handed.note, job.items)
    else:
        values |= {"plex_pending": False, "plex_due_at": None}
        values["error"] = final_note(None, job.items)
        values["plex_collection_id"] = handed.collection_id
    async with session_scope(ctx.session_factory) as session:
        result = await session.execute(
            update(YoutubeDownload)
            .where(YoutubeDownload.id == job.id, due_claim.held(DUE, claim))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    stored = bool(getattr(result, "rowcount", 0))
    event = "youtube_redelivery_failed" if handed.pending else "youtube_redelivered"
    log.info(event, download_id=str(job.id), stored=stored)
    return stored


async def _tell(emit: Emit, job: YoutubeDownload) -> None:
    """The user's open pages show the download delivered (its note gone)."""
    view = JobView(job.id, job.user_id, job.title, DownloadStatus.COMPLETED.value, job.items)
    await emit(str(job.user_id), PROGRESS_EVENT, view.payload() | {"noteChanged": True})
