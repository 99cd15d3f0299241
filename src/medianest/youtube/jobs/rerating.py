"""Giving the admin's content rating to the downloads already delivered to Plex.

Each delivery gives its items and its collection the admin's "Content rating given to
downloaded videos" (delivery/ratings.py). Downloads delivered before the admin set it, or
with another one, would keep what they had: a kid's account allowed only G would never see
them, and a change from PG to G would leave them at PG. So a change of the setting marks
every delivered download `rating_due_at` in the admin's own transaction (in the database,
like redelivery.py's `plex_due_at`: seen by every worker of every process, with or
without Redis), and the download workers give them the rating in the background:

- in batches of `BATCH` downloads claimed by one UPDATE guarded by `rating_claimed_until`
  (a lease: each download is edited by one worker; one that dies mid-batch leaves it to
  another once the lease runs out), at most `MAX_BATCHES_PER_TURN` a turn of the loop;
- per batch, each section's items are listed once and matched to the downloads by their
  files, as a delivery finds them (collection.py); then one edit per download (and item
  type) and one per collection, as python-plexapi sends `editContentRating` (mixins.py
  `ContentRatingMixin` → `EditFieldMixin.editField` → library.py `LibrarySection._edit`:
  `PUT /library/sections/{id}/all?type=&id=&contentRating.value=&contentRating.locked=1`);
- what the admin has deleted in Plex since is not listed, so not edited (deleted between
  the listing and the edit, Plex refuses it: skipped too); the batch goes on;
- Plex down or failing: the batch stops, and what it did not finish is due again when
  the status monitor sees Plex answer again (`subscribers.plex_reachable_again`, for
  redelivery's and this `DUE` alike), at the latest one audience-sweep period later
  (`handoff.retry_after_outage`): never in a loop; nor is a batch claimed while this
  process's Plex breaker refuses calls;
- a change heard while a worker rates leaves the download due (its mark is newer than
  the claim), so the newer rating is given too.

The claim, the lease, the breaker's refusal and Plex seen back are due_claim.py's, shared
with redelivery.py.

Clearing the setting marks nothing and ends a round under way: the ratings given stay as
they are. MediaNest does not know what a video had before, and taking away a rating a
kid's share admits would hide the videos from the kid again (the admin panel says so).
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.context import AppContext
from medianest.core.logging import get_logger
from medianest.db.base import utcnow
from medianest.db.engine import after_commit, session_scope
from medianest.platform import stored_settings
from medianest.platform.models import SystemSetting
from medianest.youtube.delivery import ratings
from medianest.youtube.jobs import due_claim, rerating_batch
from medianest.youtube.jobs.signals import queue_signals
from medianest.youtube.models import DownloadStatus, YoutubeDownload

log = get_logger(__name__)

ROUND_KEY = "youtube_rerating"  # how many downloads the last change marked (the progress)
BATCH = 25
MAX_BATCHES_PER_TURN = 4
# A batch's listings and edits, each with the HTTP client's tries and deadline.
LEASE_SECONDS = 300.0
# A download in flight may have read the rating before it changed: marked too, and rated
# once it is delivered.
MARKED_STATUSES = (
    DownloadStatus.COMPLETED.value,
    DownloadStatus.DOWNLOADING.value,
    DownloadStatus.PROCESSING.value,
)
# Delivered downloads, a batch at a time. Every download with a due time waits for the
# rating; one still in flight is claimed once it is delivered.
DUE = due_claim.DueClaim(
    event="youtube_rerating_due",
    due=YoutubeDownload.rating_due_at,
    claimed_until=YoutubeDownload.rating_claimed_until,
    lease=lambda _ctx: LEASE_SECONDS,
    batch=BATCH,
    tries=3,  # the candidates were all taken by others: look again, then wait a turn
    ready=(
        YoutubeDownload.status == DownloadStatus.COMPLETED.value,
        YoutubeDownload.plex_pending.is_(False),
    ),
    then_by=(YoutubeDownload.created_at,),
)


class Round(BaseModel):
    total: int = Field(ge=0)


@dataclass(frozen=True)
class Progress:
    """A round under way: `left` of `total` downloads still to rate; `waiting_until` set
    when every one left waits for Plex to come back."""

    rating: str | None
    total: int
    left: int
    waiting_until: datetime | None

    @property
    def done(self) -> int:
        return self.total - self.left


def _marked() -> ColumnElement[bool]:
    """The downloads a change marks and the progress counts: delivered (or delivering);
    a pending one gets the rating when it is delivered (redelivery.py)."""
    return and_(
        YoutubeDownload.status.in_(MARKED_STATUSES), YoutubeDownload.plex_pending.is_(False)
    )


async def rating_changed(session: AsyncSession, *, ctx: AppContext, rating: str | None) -> int:
    """The admin's rating is now `rating`: every delivered download is due (None: none is,
    the ratings given stay); the workers are woken once this commits; how many."""
    due = YoutubeDownload.rating_due_at
    if rating is None:
        statement = update(YoutubeDownload).where(due.is_not(None)).values(rating_due_at=None)
    else:
        statement = update(YoutubeDownload).where(_marked()).values(rating_due_at=utcnow())
    result = await session.execute(statement.execution_options(synchronize_session=False))
    marked = int(getattr(result, "rowcount", 0) or 0) if rating is not None else 0
    await stored_settings.save(session, ROUND_KEY, Round(total=marked).model_dump())
    if marked:
        log.info("youtube_rerating_due", downloads=marked)
        after_commit(session, queue_signals(ctx).job_added)
    return marked


async def progress(session: AsyncSession) -> Progress | None:
    """The round under way (None: every delivered download has the rating)."""
    left, first_due = (
        await session.execute(
            select(func.count(), func.min(YoutubeDownload.rating_due_at)).where(
                YoutubeDownload.rating_due_at.is_not(None), _marked()
            )
        )
    ).one()
    if not left:
        return None
    row = await session.get(SystemSetting, ROUND_KEY)
    stored = stored_settings.validated(ROUND_KEY, row.value if row else None, Round)
    total = max(stored.total if stored is not None else 0, int(left))
    waiting = first_due if first_due is not None and first_due > utcnow() else None
    return Progress(await ratings.load(session), total, int(left), waiting)


# --- the workers ------------------------------------------------------------------------
async def rate_due(ctx: AppContext) -> int:
    """Give the admin's rating to the due downloads this worker can claim, a batch at a
    time; how many it finished. With no Plex configured nothing is claimed, nor while the
    Plex breaker refuses calls (due_claim.py)."""
    finished = 0
    async with aclosing(due_claim.claims(ctx, DUE, most=MAX_BATCHES_PER_TURN)) as claims:
        async for claim in claims:
            outcome = await rerating_batch.rate_batch(ctx, claim.plex, claim.jobs)
            finished += await _settle(ctx, claim, outcome)
            if outcome.retry_at is not None:  # Plex failing: not another batch this turn
                break
    return finished


async def _settle(ctx: AppContext, claim: due_claim.Claim, outcome: rerating_batch.Outcome) -> int:
    """Store what the batch did on the downloads this worker still holds: done ones are
    due no more, the others at `retry_at`; one marked again since the claim stays due.
    How many were done."""
    done = [job.id for job in claim.jobs if job.id in outcome.done]
    left = [job.id for job in claim.jobs if job.id not in outcome.done]
    finished = 0
    async with session_scope(ctx.session_factory) as session:
        for ids, then in ((done, None), (left, outcome.retry_at)):
            if not ids:
                continue
            result = await session.execute(
                update(YoutubeDownload)
                .where(YoutubeDownload.id.in_(ids), due_claim.held(DUE, claim))
                .values(due_claim.released(DUE, claim, then))
                .execution_options(synchronize_session=False)
            )
            if then is None:
                finished = int(getattr(result, "rowcount", 0) or 0)
    log.info("youtube_rerated", downloads=finished, left=len(left))
    return finished
