"""Is this yt-dlp too old for the sites it reads? One rule for the admin's System page
and the admins' notification.

yt-dlp's versions are its release dates (2026.11.23; nightlies add .HHMMSS). Sites,
YouTube first, change often, and an old release stops reading them. yt-dlp says so
itself when one of its extractors breaks: `ExtractorError(expected=False)` ends with
`bug_reports_message()`, "… Confirm you are on the latest version using yt-dlp -U"
(`yt_dlp/utils/_utils.py`); the remedy is a newer yt-dlp, not another try. So yt-dlp is
out of date when it is older than `MAX_AGE_DAYS`, or when it has said that of a page
since this version was installed.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from medianest.core.events import publish
from medianest.db.base import insert_for, utcnow
from medianest.db.engine import session_scope
from medianest.platform.models import SystemSetting
from medianest.settings import Settings
from medianest.youtube.events import DownloaderBroke
from medianest.youtube.ytdlp import challenge_notice

MAX_AGE_DAYS = 30
OUTDATED = "outdated"  # the failure kind (`downloader.classify_error`) of such an error
# Lower-cased, from `bug_reports_message()`: an extractor failed in a way yt-dlp did not
# expect, which is how a site that changed under an old release shows.
BUG_REPORT_MARK = "confirm you are on the latest version"
BROKE_KEY = "ytdlp_extractor_broke"
UPDATE_ADVICE = "update it (a newer MediaNest release or image brings a newer yt-dlp)"


def installed_version() -> str:
    # The package metadata, not `yt_dlp.version`: importing any part of yt_dlp loads all
    # of it (~25 MB), which a web process may never need.
    return importlib.metadata.version("yt-dlp")


def release_date(version: str) -> date | None:
    try:
        year, month, day = (int(part) for part in version.split(".")[:3])
        return date(year, month, day)
    except ValueError:
        return None


def says_it_is_outdated(message: str) -> bool:
    """True for yt-dlp's "an extractor broke, is this the latest version?" errors."""
    return BUG_REPORT_MARK in message.lower()


@dataclass(frozen=True)
class Freshness:
    version: str
    release_date: date | None
    age_days: int | None
    broke_on: str | None  # the host of the last page this version could not read
    broke_at: datetime | None

    @property
    def too_old(self) -> bool:
        return self.age_days is not None and self.age_days > MAX_AGE_DAYS

    @property
    def outdated(self) -> bool:
        return self.too_old or self.broke_on is not None

    @property
    def warning(self) -> str | None:
        if self.broke_on is not None:
            return (
                f"yt-dlp {self.version} could not read a page of {self.broke_on}: the site "
                f"has changed since this release; {UPDATE_ADVICE}."
            )
        if self.too_old:
            return (
                f"yt-dlp {self.version} is {self.age_days} days old and sites, YouTube "
                f"first, change often; {UPDATE_ADVICE}."
            )
        return None


def assess(
    version: str, *, today: date | None = None, broke: dict[str, Any] | None = None
) -> Freshness:
    released = release_date(version)
    age = ((today or datetime.now(UTC).date()) - released).days if released else None
    # A breakage recorded under another version says nothing about this one.
    if not broke or broke.get("version") != version:
        broke = {}
    broke_at = broke.get("at")
    return Freshness(
        version=version,
        release_date=released,
        age_days=age,
        broke_on=broke.get("host"),
        broke_at=datetime.fromisoformat(broke_at) if broke_at else None,
    )


async def current(session: AsyncSession, *, version: str | None = None) -> Freshness:
    row = await session.get(SystemSetting, BROKE_KEY)
    return assess(version or installed_version(), broke=row.value if row else None)


async def record_breakage(session: AsyncSession, url: str, *, version: str | None = None) -> None:
    """Remember that this yt-dlp could not read `url`'s page; the first time for this
    version, the admins are told (`DownloaderBroke`)."""
    version = version or installed_version()
    host = urlsplit(url).hostname or "a site"
    before = await session.get(SystemSetting, BROKE_KEY)
    first = before is None or (before.value or {}).get("version") != version
    value = {"version": version, "host": host, "at": utcnow().isoformat()}
    insert = insert_for(session.get_bind().dialect)
    await session.execute(
        insert(SystemSetting)
        .values(key=BROKE_KEY, value=value, updated_at=utcnow())
        .on_conflict_do_update(index_elements=["key"], set_={"value": value})
    )
    if first:
        await publish(session, DownloaderBroke(version=version, host=host))


async def read_failed(
    session_factory: async_sessionmaker[AsyncSession],
    url: str | None,
    kind: str | None,
    *,
    settings: Settings,
) -> None:
    """yt-dlp could not read `url` (failure `kind`): when it blames its own age, the
    breakage is recorded and the admins told (`record_breakage`); when YouTube's
    JavaScript challenge went unsolved, the admins are told once (`challenge_notice`);
    each in a unit of work of its own. The one path for a job's item, a job's link and a
    subscription's check: a failed check's own writes are rolled back
    (`subscriptions/scheduler.py`), these are not."""
    if kind == OUTDATED:
        async with session_scope(session_factory) as session:
            await record_breakage(session, url or "")
    elif kind == challenge_notice.JS_CHALLENGE:
        await challenge_notice.challenge_failed(session_factory, settings)
