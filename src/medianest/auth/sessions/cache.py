"""A short-lived in-process cache of resolved sessions: a cached caller reads no row.

Every authenticated request needs its session and user, so a resolved session is kept
here (why: docs/performance.md), keyed by the token's hash, with the user's column
values, for at most `session_cache_seconds` and never past the moment the row needs its
once-a-minute `last_seen_at` touch, its idle limit or its expiry.

Correctness rests on invalidation, not on the TTL: every committed change to a user
row, and every deleted session row, drops the affected entries here at once (SQLAlchemy
session events) and, with Redis, on every other instance (pub/sub). A read that started
before an invalidation never stores its result (a generation counter), so a concurrent
request cannot put back what a commit just made stale. Without Redis, another process
sharing the database sees a change within the TTL.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, make_transient_to_detached

from medianest.auth.models import ApiToken, AuthSession, User
from medianest.core.context import CoreContext, PerContext
from medianest.core.logging import get_logger
from medianest.core.single_flight import Turns
from medianest.db.base import utcnow
from medianest.db.engine import write_at_commit

log = get_logger(__name__)

ALL = "*"  # invalidates every entry
_PENDING_KEY = "medianest_session_invalidations"
_USER_MAPPER = inspect(User)
_USER_COLUMNS = tuple(attr.key for attr in _USER_MAPPER.column_attrs)
_USER_MANAGER = _USER_MAPPER.class_manager


# When an entry's time is up, the first request re-reads it; for at most this long the
# session's other requests keep using the entry meanwhile (never past the session's
# expiry), instead of all reading — and, at a touch, all writing — the same row at once.
REFRESH_GRACE_SECONDS = 5.0


@dataclass
class _Entry:
    user_values: dict[str, Any]
    user_id: uuid.UUID
    valid_until: float  # time.monotonic()
    session_ends: float  # time.monotonic() past which the session is over


class SessionCache:
    """Resolved sessions by token hash; bounded, expiring, invalidated on change."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self._max_entries = max_entries
        self._entries: dict[str, _Entry] = {}
        self._refreshing: dict[str, float] = {}  # token hash -> when its re-read began
        # Token hashes being read with no entry to serve meanwhile: the session's other
        # requests wait for that read rather than each read the database at once.
        self._reading = Turns()
        self.generation = 0
        self._publish: Callable[[set[str]], None] | None = None
        self._listeners: list[Callable[[set[str]], None]] = []

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0

    def get(self, token_hash: str) -> dict[str, Any] | None:
        """The cached user values: while the entry is valid, or while another request
        re-reads it (see `begin_refresh`), for `REFRESH_GRACE_SECONDS` at most."""
        entry = self._usable(token_hash)
        return None if entry is None else entry.user_values

    def _usable(self, token_hash: str) -> _Entry | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        now = time.monotonic()
        if entry.valid_until > now:
            return entry
        started = self._refreshing.get(token_hash)
        if started is None or now - started >= REFRESH_GRACE_SECONDS:
            return None
        return entry if now < entry.session_ends else None

    def reading(self, token_hash: str) -> asyncio.Event | None:
        """None: the caller reads the session (and calls `end_reading` after); otherwise
        another request is reading it, and the event is set when it is done."""
        return self._reading.take(token_hash)

    def end_reading(self, token_hash: str) -> None:
        self._reading.done(token_hash)

    def begin_refresh(self, token_hash: str) -> None:
        """The caller is re-reading an expired entry: others may keep using it meanwhile.
        Ends with `put` or `forget` (or, if the re-read fails, with the grace period)."""
        if token_hash in self._entries:
            self._refreshing[token_hash] = time.monotonic()

    def forget(self, token_hash: str) -> None:
        self._entries.pop(token_hash, None)
        self._refreshing.pop(token_hash, None)

    def put(
        self,
        token_hash: str,
        user: User,
        *,
        generation: int,
        valid_until: datetime,
        session_ends: datetime,
    ) -> None:
        """Keep a resolution until `valid_until` (and the TTL), unless something was
        invalidated since it was read; never served past `session_ends`."""
        if not self.enabled or generation != self.generation:
            self.forget(token_hash)
            return
        now_utc = utcnow()
        session_seconds = (session_ends - now_utc).total_seconds()
        seconds_left = min(
            self.ttl_seconds, session_seconds, (valid_until - now_utc).total_seconds()
        )
        if seconds_left <= 0:
            self.forget(token_hash)
            return
        if token_hash not in self._entries and len(self._entries) >= self._max_entries:
            self.forget(next(iter(self._entries)))  # the oldest insertion
        values = {key: getattr(user, key) for key in _USER_COLUMNS}
        now = time.monotonic()
        self._entries[token_hash] = _Entry(
            values, user.id, now + seconds_left, now + session_seconds
        )
        self._refreshing.pop(token_hash, None)

    def invalidate(self, targets: set[str], *, broadcast: bool = True) -> None:
        """Drop entries of the given user ids (str) or session hashes; `*` drops all."""
        if not targets:
            return
        self.generation += 1
        if ALL in targets:
            self._entries.clear()
            self._refreshing.clear()
        else:
            for key, entry in list(self._entries.items()):
                if key in targets or str(entry.user_id) in targets:
                    self.forget(key)
        if broadcast and self._publish is not None:
            self._publish(targets)
        for listener in self._listeners:
            listener(targets)

    def on_invalidate(self, listener: Callable[[set[str]], None]) -> None:
        """Also tell `listener` of every invalidation, this instance's and relayed ones
        (open sockets are re-checked this way)."""
        self._listeners.append(listener)

    def publish_with(self, publisher: Callable[[set[str]], None] | None) -> None:
        """Where this instance's invalidations go besides itself (None: nowhere)."""
        self._publish = publisher

    def __len__(self) -> int:
        return len(self._entries)


def attach_user(session: Session, user: User) -> User:
    """`user`, a `readable_user` of cached values, made persistent in `session` without
    a query: as if the ORM had loaded the row (values as committed), so later changes
    are tracked and flushed as usual."""
    key = _USER_MAPPER.identity_key_from_primary_key((user.id,))
    loaded: User | None = session.identity_map.get(key)
    if loaded is not None:  # already in this unit of work: that object is the user
        return loaded
    make_transient_to_detached(user)
    session.add(user)
    return user


def write_user_at_commit(session: AsyncSession, user: User, **values: Any) -> None:
    """Bookkeeping on the user's own row (last sign-in, the Plex re-check) as
    `write_at_commit`: no error, and nothing written, if an admin deleted the user
    meanwhile. The user's cached sessions are dropped once it commits, as after any
    change to the row (that UPDATE is not an ORM change the listeners below see)."""
    write_at_commit(session, user, **values)
    _pending(session.sync_session).add(str(user.id))


def readable_user(values: dict[str, Any]) -> User:
    """A transient `User` holding cached values, built the way the ORM loads a row (state
    without `__init__`: cheaper than `User(**values)`); `attach_user` makes it savable."""
    user: User = _USER_MANAGER.new_instance()
    user.__dict__.update(values)
    return user


# --- invalidation from committed changes -------------------------------------------

# Caches by database URL: every app in this process on the same database is told.
_caches: dict[str, weakref.WeakSet[SessionCache]] = {}


def register(cache: SessionCache, database_url: str) -> None:
    _caches.setdefault(database_url, weakref.WeakSet()).add(cache)


def unregister(cache: SessionCache, database_url: str) -> None:
    _caches.get(database_url, weakref.WeakSet()).discard(cache)


def _pending(session: Session) -> set[str]:
    pending: set[str] = session.info.setdefault(_PENDING_KEY, set())
    return pending


# Listeners on every ORM session in the process; they only collect and, at commit, tell
# the caches registered for that session's database (none: nothing to do).
@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    for obj in session.dirty | session.deleted:
        if isinstance(obj, User):
            _pending(session).add(str(obj.id))
    for obj in session.deleted:
        if isinstance(obj, AuthSession):
            _pending(session).add(obj.id)
    for obj in session.dirty:
        # Revoked (not merely used): what the token let in is re-checked.
        if isinstance(obj, ApiToken) and inspect(obj).attrs.revoked_at.history.has_changes():
            _pending(session).add(str(obj.user_id))


@event.listens_for(Session, "do_orm_execute")
def _on_bulk(state: ORMExecuteState) -> None:
    # Bulk UPDATE/DELETE statements name no rows: drop everything (they are rare:
    # logout, disabling a user, signing out everywhere, expiry clean-up).
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ in (User, AuthSession, ApiToken):
        _pending(state.session).add(ALL)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    targets: set[str] | None = session.info.pop(_PENDING_KEY, None)
    if not targets:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    for cache in list(_caches.get(str(engine.url), ())):
        cache.invalidate(targets)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_PENDING_KEY, None)


# (across instances: auth/sessions/relay.py)


# --- wiring -------------------------------------------------------------------------


def _create(ctx: CoreContext) -> SessionCache:
    """Each app context's cache, made on first use and registered for invalidations."""
    cache = SessionCache(ctx.settings.session_cache_seconds)
    database_url = str(ctx.engine.url)
    register(cache, database_url)

    async def close() -> None:
        unregister(cache, database_url)

    ctx.closers.append(close)
    return cache


_session_caches: PerContext[SessionCache] = PerContext(_create)


def session_cache_for(ctx: CoreContext) -> SessionCache:
    """The app context's session cache, enabled or not (it still relays invalidations)."""
    cache = _session_caches.get(ctx)
    assert cache is not None  # made on first use
    return cache


def session_cache_of(ctx: CoreContext) -> SessionCache | None:
    """The session cache when enabled (`session_cache_seconds` > 0), else None."""
    cache = session_cache_for(ctx)
    return cache if cache.enabled else None
