"""The YouTube cookies the admin saved: one system_settings row, the jar encrypted.

The row holds the jar (AES-GCM, `core/crypto.py`, bound to this row by its associated
data), a `generation` that each admin save renews, and what may be shown: how many
cookies, for which domains, when saved, when the first one expires. Nothing here logs
or returns a cookie's name or value.

Downloads borrow the jar (`run_with_cookies`): each expansion or item reads the newest
one, yt-dlp gets it in a private file (`ytdlp/cookie_file.py`) and the jar it saves on
close (whole or not at all, `ytdlp/guard.py`) comes back here. It is merged into the
stored jar three ways (`netscape.merge_run`: lent, written back, stored now) under a
compare-and-set on the row's `updated_at`, retried on a race: what the site renewed is
kept, what it deleted (a `Set-Cookie` expired in the past) is removed unless another
run renewed it meanwhile, expired cookies go. So two workers that rotate different
cookies keep both; two that change the same cookie: the last one wins. A run's
write-back of cookies the admin has since replaced or removed is dropped whole: the
admin's jar always wins.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from medianest.context import AppContext
from medianest.core.crypto import DecryptionError, SecretBox
from medianest.core.errors import MediaNestError, ValidationFailed
from medianest.core.logging import get_logger
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.platform import audit, stored_settings
from medianest.platform.models import SystemSetting
from medianest.platform.stored_settings import validated
from medianest.youtube.cookies.netscape import (
    HEADER,
    MAX_COOKIE_FILE_BYTES,
    CookieFile,
    merge_run,
    parse_cookie_file,
)
from medianest.youtube.ytdlp.cookie_file import CookieLease

log = get_logger(__name__)

COOKIES_KEY = "youtube_cookies"
_CONTEXT = "system_settings:youtube_cookies"  # AES-GCM associated data: this row only
_CHECK_IN_ATTEMPTS = 10  # each round one racer wins: enough for 10 at once
T = TypeVar("T")


class StoredCookies(BaseModel):
    """The `youtube_cookies` row's value (`platform/stored_settings.py`)."""

    jar: str  # the cookies.txt text, encrypted
    generation: str  # renewed by each admin save
    count: int
    domains: list[str]
    saved_at: datetime
    saved_by: str | None = None
    earliest_expiry: datetime | None = None
    rotated_at: datetime | None = None


@dataclass(frozen=True)
class CookiesStatus:
    set: bool
    count: int = 0
    domains: tuple[str, ...] = ()
    saved_at: datetime | None = None
    earliest_expiry: datetime | None = None
    rotated_at: datetime | None = None
    generation: str | None = None


def _stored(row: SystemSetting | None) -> StoredCookies | None:
    return validated(COOKIES_KEY, row.value if row is not None else None, StoredCookies)


def status_of(stored: StoredCookies | None) -> CookiesStatus:
    if stored is None:
        return CookiesStatus(set=False)
    return CookiesStatus(
        set=True,
        count=stored.count,
        domains=tuple(stored.domains),
        saved_at=stored.saved_at,
        earliest_expiry=stored.earliest_expiry,
        rotated_at=stored.rotated_at,
        generation=stored.generation,
    )


def _described(jar: CookieFile, box: SecretBox) -> dict[str, Any]:
    return {
        "jar": box.encrypt(jar.text, context=_CONTEXT),
        "count": len(jar.entries),
        "domains": jar.domains,
        "earliest_expiry": jar.earliest_expiry,
    }


async def cookies_status(session: AsyncSession) -> CookiesStatus:
    return status_of(_stored(await session.get(SystemSetting, COOKIES_KEY)))


async def save_cookies(
    session: AsyncSession,
    *,
    box: SecretBox,
    text: str,
    extra_hosts: list[str],
    by: audit.Actor,
) -> CookiesStatus:
    """The one "set YouTube cookies" action (API and page): checked, stored encrypted,
    audited (count and domains only). Replaces cookies saved before."""
    jar = parse_cookie_file(text, extra_hosts=extra_hosts)
    stored = StoredCookies(
        **_described(jar, box),
        generation=uuid.uuid4().hex,
        saved_at=utcnow(),
        saved_by=str(by.id),
    )
    value = stored.model_dump(mode="json")
    await stored_settings.save(session, COOKIES_KEY, value)
    audit.record(
        session,
        action="youtube.cookies.save",
        actor_id=by.id,
        target="youtube_cookies",
        details={"count": stored.count, "domains": stored.domains},
        ip=by.ip,
    )
    await session.flush()
    return status_of(stored)


async def remove_cookies(session: AsyncSession, *, by: audit.Actor) -> CookiesStatus:
    """The one "remove YouTube cookies" action: downloads go without them from now on."""
    row = await session.get(SystemSetting, COOKIES_KEY)
    if row is not None:
        await session.delete(row)
        audit.record(
            session,
            action="youtube.cookies.remove",
            actor_id=by.id,
            target="youtube_cookies",
            ip=by.ip,
        )
        await session.flush()
    return CookiesStatus(set=False)


async def checkout(
    session_factory: async_sessionmaker[AsyncSession], box: SecretBox
) -> CookieLease | None:
    """The stored cookies for one yt-dlp run, or None when none are set (or they cannot
    be decrypted: a lost key; the download then goes without, as before they were set)."""
    async with session_factory() as session:
        stored = _stored(await session.get(SystemSetting, COOKIES_KEY))
    if stored is None:
        return None
    try:
        text = box.decrypt(stored.jar, context=_CONTEXT)
    except DecryptionError:
        log.warning("youtube_cookies_unreadable", reason="the encryption key changed")
        return None
    return CookieLease(text=text, generation=stored.generation)


def _rotation(lease: CookieLease, extra_hosts: list[str]) -> tuple[CookieFile, CookieFile] | None:
    """The jar lent and the jar yt-dlp saved, when it saved a readable one that differs
    (yt-dlp's save starts with the Netscape header: an empty file is no save)."""
    if lease.rotated is None or lease.rotated == lease.text:
        return None
    try:
        if not lease.rotated.startswith(HEADER):
            raise ValidationFailed("not a cookies file", details={"reason": "not_saved"})
        return (
            parse_cookie_file(lease.text, extra_hosts=extra_hosts, allow_empty=True),
            parse_cookie_file(lease.rotated, extra_hosts=extra_hosts, allow_empty=True),
        )
    except MediaNestError as refused:  # cut short, or cookies of a host since unlisted
        log.warning("youtube_cookies_rotation_refused", reason=refused.details.get("reason"))
        return None


async def check_in(
    session_factory: async_sessionmaker[AsyncSession],
    box: SecretBox,
    lease: CookieLease | None,
    *,
    extra_hosts: list[str],
) -> bool:
    """Keep what the sites changed in the lent jar, renewals and deletions (merged into
    the stored one, `merge_run`); True when something was stored."""
    rotation = _rotation(lease, extra_hosts) if lease is not None else None
    if lease is None or rotation is None:
        return False
    before, after = rotation
    for _attempt in range(_CHECK_IN_ATTEMPTS):
        async with session_scope(session_factory) as session:
            row = await session.get(SystemSetting, COOKIES_KEY)
            stored = _stored(row)
            if row is None or stored is None or stored.generation != lease.generation:
                return False  # replaced or removed by the admin meanwhile
            text = box.decrypt(stored.jar, context=_CONTEXT)
            current = parse_cookie_file(text, extra_hosts=extra_hosts, allow_empty=True)
            merged = merge_run(current, base=before, theirs=after, now=time.time())
            if merged is None or len(merged.text.encode()) > MAX_COOKIE_FILE_BYTES:
                return False
            changed = await session.execute(
                update(SystemSetting)
                .where(SystemSetting.key == COOKIES_KEY, SystemSetting.updated_at == row.updated_at)
                .values(
                    value=stored.model_copy(
                        update={**_described(merged, box), "rotated_at": utcnow()}
                    ).model_dump(mode="json"),
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(changed, "rowcount", 0) == 1:
                log.info("youtube_cookies_rotated", cookies=len(merged.entries))
                return True
    log.warning("youtube_cookies_rotation_lost", attempts=_CHECK_IN_ATTEMPTS)
    return False


async def run_with_cookies(ctx: AppContext, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, cookies=lease, **kwargs)` in a worker thread (yt-dlp blocks), with the
    stored cookies lent to it and what it rotated kept afterwards, even when it failed."""
    lease = await checkout(ctx.session_factory, ctx.secret_box)
    try:
        return await asyncio.to_thread(fn, *args, cookies=lease, **kwargs)
    finally:
        if lease is not None and lease.rotated is not None:
            try:
                await check_in(
                    ctx.session_factory,
                    ctx.secret_box,
                    lease,
                    extra_hosts=ctx.settings.youtube_extra_host_list,
                )
            except Exception as exc:  # the download's own outcome matters more
                log.warning("youtube_cookies_rotation_not_saved", error=type(exc).__name__)
