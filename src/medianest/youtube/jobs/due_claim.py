"""Work due on Plex, claimed by one download worker at a time: the rules redelivery.py
(a pending delivery, `plex_due_at`/`plex_claimed_until`) and rerating.py (the admin's
content rating, `rating_due_at`/`rating_claimed_until`, migration `rr_1`) share.

A kind of work (`DueClaim`) is a due column and a claimed-until column on
`youtube_downloads`. The rules, the same for every kind:

- a row is due from its due time on; a time still to come says Plex failed it (only an
  outage sets one: `handoff.retry_after_outage`), so Plex seen answering again makes it
  due at once (`mark_outage_due`) and nothing else does before its time;
- a claim is a lease: the claimed-until column set to now + the kind's lease; a worker
  that dies mid-work leaves its rows to another once the lease runs out;
- each row is claimed by one worker, on SQLite and PostgreSQL alike: the candidates are
  read, then taken by one UPDATE that checks each of them again (`claimable`) and returns
  what it took; a row another worker took meanwhile is not taken (no `FOR UPDATE`: the
  guarded UPDATE is the lock on both backends);
- nothing is claimed with no Plex configured, nor while this process's breaker for Plex
  refuses calls (Plex may be back, another instance saw it: work refused here would wait
  a whole period); the breaker's next probe, after its reset time, is then the work;
- the result is stored only by the worker still holding the rows (`held`), and a row
  marked again since the claim (its due time newer than the claim) stays due (`released`),
  so a change heard meanwhile is not lost.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from medianest.context import AppContext
from medianest.core.logging import get_logger
from medianest.db.base import UTCDateTime, utcnow
from medianest.db.engine import session_scope
from medianest.integrations.plex import PlexClient
from medianest.plex import access as plex_access
from medianest.youtube.models import YoutubeDownload

log = get_logger(__name__)

Column = InstrumentedAttribute[datetime | None]


@dataclass(frozen=True)
class DueClaim:
    """A kind of work due on Plex. `waiting`: the rows of this kind (marked due, and
    made due when Plex answers again); `ready`: what a waiting row must be besides, to be
    claimed. A claim takes at most `batch` rows, in due order (then `then_by`), for
    `lease(ctx)` seconds; `tries` looks (None: until nothing is left) when others took
    every candidate first."""

    event: str  # the log event of a mark
    due: Column
    claimed_until: Column
    lease: Callable[[AppContext], float]
    batch: int
    tries: int | None
    waiting: tuple[ColumnElement[bool], ...] = ()
    ready: tuple[ColumnElement[bool], ...] = ()
    then_by: tuple[InstrumentedAttribute[Any], ...] = ()


@dataclass(frozen=True)
class Claim:
    """Rows this worker works on through `plex`: claimed `at`, held `until` (its lease)."""

    plex: PlexClient
    jobs: list[YoutubeDownload]
    at: datetime
    until: datetime


def claimable(kind: DueClaim, now: datetime) -> ColumnElement[bool]:
    """Due by `now`, and claimed by no worker (or its lease ran out)."""
    return and_(
        *kind.waiting,
        *kind.ready,
        kind.due <= now,
        or_(kind.claimed_until.is_(None), kind.claimed_until < now),
    )


async def mark_due(session: AsyncSession, kind: DueClaim, *where: ColumnElement[bool]) -> int:
    """Make the rows of `kind` matching `where` due now; how many."""
    result = await session.execute(
        update(YoutubeDownload)
        .where(*kind.waiting, *where)
        .values({kind.due: utcnow()})
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_outage_due(session: AsyncSession, kind: DueClaim) -> int:
    """Plex answers again: the rows of `kind` waiting for a time still to come (only an
    outage sets one) are due now; how many. One waiting for its own change has no time
    and is left alone; one already due stays as it is."""
    marked = await mark_due(session, kind, kind.due > utcnow())
    if marked:
        log.info(kind.event, downloads=marked, reason="plex_reachable")
    return marked


async def claims(ctx: AppContext, kind: DueClaim, *, most: int) -> AsyncGenerator[Claim, None]:
    """At most `most` claims, one after the other as the caller finishes each, while
    Plex is configured and this process's breaker for it does not refuse calls. Use it
    in `contextlib.aclosing`: a caller may stop early."""
    plex = await plex_access.owner_client(ctx.integrations)
    if plex is None:
        return
    for _ in range(most):
        if plex.http.breaker.refusing:
            return
        claimed = await claim(ctx, kind, plex)
        if claimed is None:
            return
        yield claimed


async def claim(ctx: AppContext, kind: DueClaim, plex: PlexClient) -> Claim | None:
    """The next due rows (at most `kind.batch`), claimed until the lease it returns
    (None: nothing due is free). The UPDATE checks each row again: what another worker
    took meanwhile is not taken, and the next candidates are looked for."""
    looked = 0
    while kind.tries is None or looked < kind.tries:
        looked += 1
        now = utcnow()
        until = now + timedelta(seconds=kind.lease(ctx))
        async with session_scope(ctx.session_factory) as session:
            candidates = list(
                await session.scalars(
                    select(YoutubeDownload.id)
                    .where(claimable(kind, now))
                    .order_by(kind.due, *kind.then_by)
                    .limit(kind.batch)
                )
            )
            if not candidates:
                return None
            taken = list(
                await session.scalars(
                    update(YoutubeDownload)
                    .where(YoutubeDownload.id.in_(candidates), claimable(kind, now))
                    .values({kind.claimed_until: until})
                    .returning(YoutubeDownload.id)
                    .execution_options(synchronize_session=False)
                )
            )
            if not taken:
                continue  # others took every candidate first: look again
            jobs = list(
                await session.scalars(
                    select(YoutubeDownload)
                    .where(YoutubeDownload.id.in_(taken))
                    .order_by(YoutubeDownload.created_at)  # oldest first, as they were made
                )
            )
        if jobs:
            return Claim(plex, jobs, now, until)
    return None


def held(kind: DueClaim, claim: Claim) -> ColumnElement[bool]:
    """The rows still held by `claim`: the only ones its worker may store a result on."""
    return kind.claimed_until == claim.until


def released(kind: DueClaim, claim: Claim, then: datetime | None) -> dict[str, Any]:
    """The values that end `claim` on a row: not claimed, and due at `then` (None: not
    due) unless it was marked again since the claim (then it stays due)."""
    again = literal(then, UTCDateTime()) if then is not None else None
    newer = kind.due > claim.at
    return {
        kind.claimed_until.key: None,
        kind.due.key: case((newer, kind.due), else_=again),
    }
