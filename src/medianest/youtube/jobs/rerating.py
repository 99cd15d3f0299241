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
- Plex down or failing: the batch stops, and what it did not finish is due again one
  audience-sweep period later (`handoff.retry_after_outage`): never in a loop;
- a change heard while a worker rates leaves the download due (its mark is newer than
  the claim), so the newer rating is given too.

Clearing the setting marks nothing and ends a round under way: the ratings given stay as
they are. MediaNest does not know what a video had before, and taking away a rating a
kid's share admits would hide the videos from the kid again (the admin panel says so).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.context import AppContext
from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.db.base import UTCDateTime, utcnow
from medianest.db.engine import after_commit, session_scope
from medianest.integrations import plex_edits
from medianest.integrations.outcomes import UpstreamHTTPError
from medianest.integrations.plex import PlexClient
from medianest.integrations.plex_models import PlexItem
from medianest.platform import stored_settings
from medianest.platform.models import SystemSetting
from medianest.plex import access as plex_access
from medianest.plex import paths as plex_paths
from medianest.youtube.delivery import collection as plex_delivery
from medianest.youtube.delivery import handoff, ratings
from medianest.youtube.jobs.signals import queue_signals
from medianest.youtube.models import DownloadStatus, YoutubeDownload

log = get_logger(__name__)

ROUND_KEY = "youtube_rerating"  # how many downloads the last change marked (the progress)
BATCH = 25
MAX_BATCHES_PER_TURN = 4
# A batch's listings and edits, each with the HTTP client's tries and deadline.
LEASE_SECONDS = 300.0
# Plex's answers to an edit of an item or collection that is gone: skipped, not failed.
GONE = frozenset({400, 404, 410})
# A download in flight may have read the rating before it changed: marked too, and rated
# once it is delivered.
MARKED_STATUSES = (
    DownloadStatus.COMPLETED.value,
    DownloadStatus.DOWNLOADING.value,
    DownloadStatus.PROCESSING.value,
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
@dataclass(frozen=True)
class Claim:
    """Downloads this worker rates: claimed `at`, held `until` (its lease)."""

    jobs: list[YoutubeDownload]
    at: datetime
    until: datetime


@dataclass
class Outcome:
    """What a batch did: the downloads `done` (rated, or nothing of theirs left in Plex);
    the others are due again at `retry_at` (Plex failed)."""

    done: set[uuid.UUID] = field(default_factory=set)
    retry_at: datetime | None = None


async def rate_due(ctx: AppContext) -> int:
    """Give the admin's rating to the due downloads this worker can claim, a batch at a
    time; how many it finished. With no Plex configured nothing is claimed."""
    plex = await plex_access.owner_client(ctx.integrations)
    if plex is None:
        return 0
    finished = 0
    for _ in range(MAX_BATCHES_PER_TURN):
        claim = await _claim(ctx)
        if claim is None:
            break
        outcome = await _rate_batch(ctx, plex, claim)
        finished += await _settle(ctx, claim, outcome)
        if outcome.retry_at is not None:  # Plex failing: not another batch this turn
            break
    return finished


def _claimable(now: datetime) -> ColumnElement[bool]:
    return and_(
        YoutubeDownload.rating_due_at <= now,
        YoutubeDownload.status == DownloadStatus.COMPLETED.value,
        YoutubeDownload.plex_pending.is_(False),
        or_(
            YoutubeDownload.rating_claimed_until.is_(None),
            YoutubeDownload.rating_claimed_until < now,
        ),
    )


async def _claim(ctx: AppContext) -> Claim | None:
    """The next due downloads (at most `BATCH`), claimed until the lease it returns. The
    UPDATE checks each row again: what another worker took meanwhile is not taken."""
    for _ in range(3):  # the candidates were all taken by others: look again
        now = utcnow()
        until = now + timedelta(seconds=LEASE_SECONDS)
        async with session_scope(ctx.session_factory) as session:
            candidates = list(
                await session.scalars(
                    select(YoutubeDownload.id)
                    .where(_claimable(now))
                    .order_by(YoutubeDownload.rating_due_at, YoutubeDownload.created_at)
                    .limit(BATCH)
                )
            )
            if not candidates:
                return None
            taken = list(
                await session.scalars(
                    update(YoutubeDownload)
                    .where(YoutubeDownload.id.in_(candidates), _claimable(now))
                    .values(rating_claimed_until=until)
                    .returning(YoutubeDownload.id)
                    .execution_options(synchronize_session=False)
                )
            )
            if not taken:
                continue
            jobs = list(
                await session.scalars(
                    select(YoutubeDownload)
                    .where(YoutubeDownload.id.in_(taken))
                    .order_by(YoutubeDownload.created_at)  # oldest first, as they were made
                )
            )
        return Claim(jobs, now, until)
    return None


async def _rate_batch(ctx: AppContext, plex: PlexClient, claim: Claim) -> Outcome:
    """Rate the claimed downloads. The rating is read after the claim: a change made
    before it is given; one made after marks the downloads again (`_settle` keeps it)."""
    async with ctx.session_factory() as session:
        rating = await ratings.load(session)
        paths = await plex_paths.load_path_map(session, settings=ctx.settings)
    outcome = Outcome()
    if rating is None:  # cleared meanwhile: nothing to give
        outcome.done = {job.id for job in claim.jobs}
        return outcome
    try:
        sections = await _sections_of(ctx, plex, claim.jobs, paths)
        # A download no library holds has nothing in Plex to rate.
        outcome.done = {job.id for job in claim.jobs} - {
            job.id for jobs in sections.values() for job in jobs
        }
        edited: set[str] = set()  # a subscription's downloads share one collection
        for section_id, jobs in sections.items():
            items = await _items_of(plex, section_id, jobs, paths)
            collections = await _collections_of(plex, section_id, jobs)
            for job in jobs:
                await _rate_download(plex, section_id, items.get(job.id, []), rating)
                collection = job.plex_collection_id
                if collection in collections and collection not in edited:
                    edited.add(collection)
                    query = plex_edits.query("collection", [collection], _edits(rating))
                    await _edit(plex, section_id, query)
                outcome.done.add(job.id)
    except MediaNestError as exc:
        left = len(claim.jobs) - len(outcome.done)
        log.warning("youtube_rerating_plex_failed", error=exc.code, downloads_left=left)
        outcome.retry_at = handoff.retry_after_outage(ctx)
    return outcome


def _edits(rating: str) -> dict[str, object]:
    return plex_edits.content_rating(rating)


async def _rate_download(
    plex: PlexClient, section_id: str, items: Sequence[PlexItem], rating: str
) -> None:
    """One edit of the download's items per item type (all its ids, as `multiEdit`)."""
    by_type: dict[str, list[str]] = {}
    for item in items:
        by_type.setdefault(plex_edits.item_type(item.type), []).append(item.rating_key)
    for item_type, keys in by_type.items():
        await _edit(plex, section_id, plex_edits.query(item_type, keys, _edits(rating)))


async def _edit(plex: PlexClient, section_id: str, query: dict[str, object]) -> None:
    """Send one edit; one Plex refuses because what it names is gone is skipped."""
    try:
        await plex.edit_items(section_id, query)
    except UpstreamHTTPError as exc:
        if exc.upstream_status not in GONE:
            raise
        log.info("youtube_rerating_gone", section_id=section_id, status=exc.upstream_status)


async def _sections_of(
    ctx: AppContext,
    plex: PlexClient,
    jobs: Sequence[YoutubeDownload],
    paths: plex_paths.PathMap,
) -> dict[str, list[YoutubeDownload]]:
    """The downloads by the section holding their folder (as their delivery chose it);
    those with no files, or no library holding them, are left out."""
    configured = plex_delivery.configured_section(ctx.settings, ctx.integrations)
    sections = [] if configured else await plex.sections()
    grouped: dict[str, list[YoutubeDownload]] = {}
    for job in jobs:
        folder = Path(job.folder or "")
        if not job.folder or not folder.is_relative_to(paths.local_root):
            continue
        if configured:
            key = configured
        else:
            try:
                key = plex_delivery.section_for(sections, paths.to_plex(folder)).key
            except plex_delivery.DeliveryFailed:
                continue
        grouped.setdefault(key, []).append(job)
    return grouped


async def _items_of(
    plex: PlexClient,
    section_id: str,
    jobs: Sequence[YoutubeDownload],
    paths: plex_paths.PathMap,
) -> dict[uuid.UUID, list[PlexItem]]:
    """The items of `jobs` in the section (listed once), by download: by file path when
    Plex gives it, else by title (the "Plex Video Files" scanner's, the file's name)."""
    by_file: dict[tuple[Path, str], uuid.UUID] = {}
    by_title: dict[str, uuid.UUID | None] = {}
    for job in jobs:
        for stem in handoff.stems_of(job):
            by_file[(Path(job.folder or ""), stem)] = job.id
            by_title[stem] = job.id if stem not in by_title else None  # ambiguous: none
    found: dict[uuid.UUID, list[PlexItem]] = {}
    start = 0
    while True:
        page = await plex.section_items(section_id, start=start, size=plex_delivery.PAGE_SIZE)
        for item in page.items:
            local = [paths.to_local(f) for f in item.files]
            owners = [by_file.get((f.parent, f.stem)) for f in local if f is not None]
            owner = next((o for o in owners if o), None) if item.files else by_title.get(item.title)
            if owner is not None:
                found.setdefault(owner, []).append(item)
        start += len(page.items)
        if not page.items or start >= page.total:
            return found


async def _collections_of(
    plex: PlexClient, section_id: str, jobs: Sequence[YoutubeDownload]
) -> set[str]:
    """Which of the downloads' collections the section still has (listed once)."""
    wanted = {job.plex_collection_id for job in jobs if job.plex_collection_id}
    kept: set[str] = set()
    start = 0
    while wanted:
        snapshot = await plex.section_collections(
            section_id, start=start, size=plex_delivery.PAGE_SIZE
        )
        page = snapshot.value
        kept |= {c.rating_key for c in page.items} & wanted
        start += len(page.items)
        if not page.items or start >= page.total:
            break
    return kept


async def _settle(ctx: AppContext, claim: Claim, outcome: Outcome) -> int:
    """Store what the batch did on the downloads this worker still holds: done ones are
    due no more, the others at `retry_at`; one marked again since the claim stays due.
    How many were done."""
    newer = YoutubeDownload.rating_due_at > claim.at
    retry = literal(outcome.retry_at, UTCDateTime()) if outcome.retry_at else None
    done = [job.id for job in claim.jobs if job.id in outcome.done]
    left = [job.id for job in claim.jobs if job.id not in outcome.done]
    finished = 0
    async with session_scope(ctx.session_factory) as session:
        for ids, then in ((done, None), (left, retry)):
            if not ids:
                continue
            result = await session.execute(
                update(YoutubeDownload)
                .where(
                    YoutubeDownload.id.in_(ids),
                    YoutubeDownload.rating_claimed_until == claim.until,
                )
                .values(
                    rating_claimed_until=None,
                    rating_due_at=case((newer, YoutubeDownload.rating_due_at), else_=then),
                )
                .execution_options(synchronize_session=False)
            )
            if then is None:
                finished = int(getattr(result, "rowcount", 0) or 0)
    log.info("youtube_rerated", downloads=finished, left=len(left))
    return finished
