"""The dashboard's status aggregate: recorded in `service_status`, served from the cache.

Readers never contact a service: they get the cached aggregate the monitor wrote, or,
when it expired (another instance without a shared cache, a stopped monitor), the rows
of `service_status`.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import datetime

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.context import AppContext
from medianest.core.context import PerContext
from medianest.core.data_changes import MEMORY, note_read, note_valid_until
from medianest.dashboard.models import ServiceStatus
from medianest.dashboard.schemas import DataSource, MonitorStatus, ServiceState, ServiceStatusOut
from medianest.db.base import insert_for
from medianest.db.engine import session_scope
from medianest.integrations.links import link_out
from medianest.integrations.models import ServiceConfig

SERVICES = ("plex", "overseerr", "uptime_kuma")
CACHE_KEY = "dashboard:status"
CACHE_TTL_SECONDS = 60.0
# The name answers made from this instance's copy depend on (core/data_changes.py).
LOCAL_COPY_SOURCE = "memory:dashboard-status"
# Each instance also keeps the aggregate it last read for a second: a busy dashboard then
# costs no Redis round trip (nor JSON decoding) per request. Pushes stay live; a poll on
# an instance other than the monitor's may lag a change by this long (plus the grace
# while one request refreshes the copy and the others keep answering from it).
LOCAL_COPY_SECONDS = 1.0
LOCAL_COPY_GRACE_SECONDS = 1.0
# After finding the cache empty, `local_copy_json` leaves it alone this long: the route
# then answers with `current_status`, which tries the cache once itself and reads the
# database. Without the pause, a cache that hangs (Redis unreachable) would be waited
# for twice per request.
CACHE_EMPTY_PAUSE_SECONDS = 1.0
NOT_CHECKED = "Not checked yet"
# Degraded answers (slow, wrong key) still mean the service is reachable.
UP_STATES = frozenset({"online", "degraded"})


_ENTRIES = TypeAdapter(list[ServiceStatusOut])


@dataclass
class _CopyState:
    """This instance's copy of the aggregate, per app context."""

    local: _LocalCopy | None = None
    refreshing: bool = False  # one request is re-reading the shared cache
    cache_empty_until: float = 0.0  # time.monotonic()


_copies: PerContext[_CopyState] = PerContext(lambda _ctx: _CopyState())


def copy_state(ctx: AppContext) -> _CopyState:
    state = _copies.get(ctx)
    assert state is not None  # made on first use
    return state


@dataclass(frozen=True)
class _LocalCopy:
    entries: list[ServiceStatusOut]
    until: float  # time.monotonic()

    @functools.cached_property
    def as_json(self) -> bytes:
        """The entries as the API sends them (made once per copy, on first use)."""
        return _ENTRIES.dump_json(self.entries, by_alias=True)


@dataclass(frozen=True)
class CheckOutcome:
    """The result of checking one service once."""

    service: str
    status: ServiceState
    response_time_ms: float | None = None
    error: str | None = None
    url: str | None = None
    monitors: list[MonitorStatus] | None = None
    source: DataSource | None = None
    data_at: datetime | None = None
    source_note: str | None = None


async def record_checks(
    session: AsyncSession,
    outcomes: list[CheckOutcome],
    *,
    checked_at: datetime,
    count: bool = True,
) -> list[ServiceStatusOut]:
    """Store checks and return their entries; `count` them toward uptime (a round does,
    a live push between rounds does not)."""
    entries: list[ServiceStatusOut] = []
    rows = await _rows_to_write(session, [outcome.service for outcome in outcomes])
    for outcome in outcomes:
        row = rows[outcome.service]
        row.status = outcome.status
        row.response_time_ms = outcome.response_time_ms
        row.last_check_at = checked_at
        row.error = outcome.error
        if outcome.status != "unconfigured" and (count or not row.checks_total):
            row.checks_total = (row.checks_total or 0) + 1
            row.checks_up = (row.checks_up or 0) + (1 if outcome.status in UP_STATES else 0)
            row.uptime_percentage = round(100.0 * row.checks_up / row.checks_total, 2)
        entries.append(
            ServiceStatusOut(
                service=outcome.service,
                status=outcome.status,
                response_time_ms=_rounded(outcome.response_time_ms),
                last_check_at=checked_at,
                uptime_percentage=row.uptime_percentage
                if outcome.status != "unconfigured"
                else None,
                error=outcome.error,
                url=link_out(outcome.url),
                monitors=outcome.monitors,
                source=outcome.source,
                data_at=outcome.data_at,
                source_note=outcome.source_note,
            )
        )
    return entries


async def _rows_to_write(session: AsyncSession, names: list[str]) -> dict[str, ServiceStatus]:
    """The services' rows, made when missing and locked until the transaction ends: a second
    writer (another instance's round while the lease changes hands, a live push, a check
    run by hand) waits, then adds to the counts instead of inserting the row again or
    writing over what the first added."""
    if not names:
        return {}
    insert = insert_for(session.get_bind().dialect)
    await session.execute(
        insert(ServiceStatus)
        .values([{"service_name": n, "status": "unconfigured"} for n in names])
        .on_conflict_do_nothing(index_elements=["service_name"])
    )
    found = await session.scalars(
        select(ServiceStatus)
        .where(ServiceStatus.service_name.in_(names))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.service_name: row for row in found}


async def cache_status(ctx: AppContext, entries: list[ServiceStatusOut]) -> None:
    payload = [e.model_dump(mode="json", by_alias=True) for e in entries]
    await ctx.cache.set(CACHE_KEY, payload, CACHE_TTL_SECONDS)
    _keep_local_copy(ctx, entries)


def _keep_local_copy(ctx: AppContext, entries: list[ServiceStatusOut]) -> _LocalCopy:
    state = copy_state(ctx)
    previous = state.local
    local = _LocalCopy(entries, time.monotonic() + LOCAL_COPY_SECONDS)
    state.local = local
    # Answers made from the old copy (core/response_cache.py) are out of date if it said
    # something else. (Re-read every second while polled, it mostly says the same: a
    # change counted then would also undo the answer of the request that re-read it.)
    if previous is None or previous.entries != entries:
        MEMORY.changed({LOCAL_COPY_SOURCE})
    return _read(local)


def _read(local: _LocalCopy) -> _LocalCopy:
    """`local`, noted as what the request's answer was made from, and until when."""
    note_read(LOCAL_COPY_SOURCE)
    note_valid_until(local.until)
    return local


def _usable_local_copy(ctx: AppContext) -> _LocalCopy | None:
    """The local copy while fresh, or while one request is refreshing it (for at most
    `LOCAL_COPY_GRACE_SECONDS` more): the requests that arrive meanwhile do not all
    read the cache again."""
    state = copy_state(ctx)
    local = state.local
    if local is None:
        return None
    now = time.monotonic()
    if local.until > now:
        return _read(local)
    if state.refreshing and local.until + LOCAL_COPY_GRACE_SECONDS > now:
        return _read(local)
    return None


async def local_copy_json(ctx: AppContext) -> bytes | None:
    """This instance's aggregate, serialized, when memory or the shared cache holds it
    (an expired copy is re-read from the cache, by one request while the others keep
    the old copy); None when only the database would do.

    The polled route's way (dashboard/router.py): its body is sent as it is. Only one
    request re-reads an expired copy; when each did, the requests arriving meanwhile
    all decoded the cache again, several a second, each far dearer than a cached answer
    and holding up the ones behind it.
    """
    local = _usable_local_copy(ctx)
    if local is not None:
        return local.as_json
    now = time.monotonic()
    state = copy_state(ctx)
    if state.refreshing or state.cache_empty_until > now:
        return None
    local = await _refresh_local_copy(ctx)
    if local is None:
        state.cache_empty_until = now + CACHE_EMPTY_PAUSE_SECONDS
        return None
    return local.as_json


async def current_status(ctx: AppContext) -> list[ServiceStatusOut]:
    """The aggregate from the cache, else from the database.

    Only the monitor writes the cache: a reader caching what it read could overwrite a
    newer aggregate written between its read and its write.
    """
    local = _usable_local_copy(ctx) or await _refresh_local_copy(ctx)
    if local is not None:
        return local.entries
    async with session_scope(ctx.session_factory) as session:
        return await load_status(session)


async def _refresh_local_copy(ctx: AppContext) -> _LocalCopy | None:
    """Re-read the shared cache into this instance's copy; None when it holds nothing."""
    state = copy_state(ctx)
    state.refreshing = True
    try:
        cached = await ctx.cache.get(CACHE_KEY)
    finally:
        state.refreshing = False
    if not isinstance(cached, list):
        return None
    return _keep_local_copy(ctx, [ServiceStatusOut.model_validate(item) for item in cached])


async def load_status(session: AsyncSession) -> list[ServiceStatusOut]:
    """The aggregate from `service_status`; a service never checked is reported from its
    configuration (offline until the first check, or unconfigured)."""
    rows = {r.service_name: r for r in await session.scalars(select(ServiceStatus))}
    configs = {c.service_name: c for c in await session.scalars(select(ServiceConfig))}
    entries: list[ServiceStatusOut] = []
    for name in SERVICES:
        row = rows.get(name)
        config = configs.get(name)
        url = link_out(config.service_url) if config is not None and config.enabled else None
        if row is None:
            configured = config is not None and config.enabled and bool(config.service_url)
            entries.append(
                ServiceStatusOut(
                    service=name,
                    status="offline" if configured else "unconfigured",
                    error=NOT_CHECKED if configured else None,
                    url=url,
                )
            )
            continue
        entries.append(
            ServiceStatusOut(
                service=name,
                status=_state(row.status),
                response_time_ms=_rounded(row.response_time_ms),
                last_check_at=row.last_check_at,
                uptime_percentage=row.uptime_percentage if row.status != "unconfigured" else None,
                error=row.error,
                url=url,
            )
        )
    return entries


def _state(value: str) -> ServiceState:
    if value in ("online", "offline", "degraded", "unconfigured"):
        return value  # type: ignore[return-value]
    return "offline"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
