"""Tell the admins, once, that YouTube items fail because yt-dlp could not solve YouTube's
JavaScript challenge (failure kind `js_challenge`: no runtime, too old a one, or solver
scripts that no longer match YouTube's player; youtube/ytdlp/js_solver.py).

One notice per failing solver, not one per item: the first failure claims a row
(`NOTICE_KEY`) holding what solves the challenges here (`solver_identity`: yt-dlp's,
the runtime's and yt-dlp-ejs's versions and the runtime's path) in a unit of work of its
own, atomically (an INSERT that conflicts, a DELETE of the row read), so two workers
failing at once on SQLite or PostgreSQL tell the admins once. A later failure tells them
again only when that solver changed since (an admin's fix or an update: it was given its
chance and failed again), or when `REMIND_AFTER` has passed with it still failing.
"""

from __future__ import annotations

import importlib.metadata
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from medianest.core.events import publish
from medianest.db.base import insert_for, utcnow
from medianest.db.engine import session_scope
from medianest.platform.models import SystemSetting
from medianest.settings import Settings
from medianest.youtube.events import ChallengesUnsolved
from medianest.youtube.ytdlp import js_solver

JS_CHALLENGE = "js_challenge"  # the failure kind (`downloader.classify_error`)
NOTICE_KEY = "ytdlp_js_challenge_notice"
REMIND_AFTER = timedelta(days=7)
ENGINE_ADVICE = (
    "YouTube has likely changed its player since this release: update MediaNest (a newer "
    "release or image brings a newer yt-dlp and yt-dlp-ejs)"
)


def solver_identity(solver: js_solver.SolverStatus) -> str:
    ytdlp = importlib.metadata.version("yt-dlp")
    return f"yt-dlp {ytdlp}; {solver.runtime} {solver.version} at {solver.path}; ejs {solver.ejs_version}"


def problem_words(solver: js_solver.SolverStatus) -> str:
    """What is wrong and the fix, in plain words."""
    if solver.warning is not None:
        return solver.warning
    return (
        f"{solver.runtime} {solver.version} ({solver.path}) ran, but YouTube's challenge was "
        f"not solved: YouTube downloads miss formats or fail. To fix it, {ENGINE_ADVICE}."
    )


async def claim(session: AsyncSession, *, identity: str, now: datetime) -> bool:
    """True for the one caller that is to tell the admins of `identity`'s failure now."""
    row = (
        await session.execute(
            select(SystemSetting.value, SystemSetting.updated_at).where(
                SystemSetting.key == NOTICE_KEY
            )
        )
    ).one_or_none()
    if row is not None:
        told = row.value or {}
        if told.get("solver") == identity and row.updated_at > now - REMIND_AFTER:
            return False
        # Replace it, unless another worker did since it was read (then that one tells).
        gone = await session.execute(
            delete(SystemSetting).where(
                SystemSetting.key == NOTICE_KEY, SystemSetting.updated_at <= row.updated_at
            )
        )
        if getattr(gone, "rowcount", 0) != 1:
            return False
    insert = insert_for(session.get_bind().dialect)
    claimed = await session.execute(
        insert(SystemSetting)
        .values(key=NOTICE_KEY, value={"solver": identity, "at": now.isoformat()}, updated_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(SystemSetting.key)
    )
    return claimed.first() is not None


async def challenge_failed(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings
) -> bool:
    """An item failed as `js_challenge`: tell the admins if nobody has for this solver
    (`ChallengesUnsolved`). True when this call told them."""
    solver = await js_solver.configured_status(settings)
    async with session_scope(session_factory) as session:
        if not await claim(session, identity=solver_identity(solver), now=utcnow()):
            return False
        await publish(session, ChallengesUnsolved(problem=problem_words(solver)))
    return True
