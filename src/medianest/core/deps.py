"""`SessionDep`, the database session every router shares (the context's dependency,
`ContextDep`, lives with the typed context in `medianest.context`), made on first use:
a route answered from memory (a cached session, a cached aggregate) makes none.
`database_of(request)` is the same session, not yet made (what the sign-in dependencies
take: a caller found in the session cache needs none).

Every router is an `api_router`: its routes commit the session once after the endpoint
returned, or roll it back; services never commit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from starlette.routing import compile_path, get_name

from medianest.core import response_cache
from medianest.core.context import CoreContext, PerContext
from medianest.core.data_changes import ReadSet, recording_reads
from medianest.core.data_changes import step as data_step
from medianest.core.errors import MediaNestError, ServiceUnavailable
from medianest.db.base import Base
from medianest.db.engine import (
    LazySession,
    bound_session,
    forget_after_commit,
    row_exists,
    run_after_commit,
    used_connection,
)

_DATABASE = "medianest.database"  # the request's LazySession, in the ASGI scope
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _database_unreachable(exc: Exception) -> bool:
    """Whether a database error means "cannot reach it" (→ 503) rather than a bad query."""
    if isinstance(exc, OperationalError | OSError):
        return True
    assert isinstance(exc, DBAPIError)
    # No statement: it failed while connecting. SQLAlchemy does not flag every asyncpg
    # error of a connection cut during its handshake as a disconnect (found by a fault test).
    return exc.connection_invalidated or exc.statement is None


def _touched_database(session: AsyncSession) -> bool:
    """Whether there is anything to commit: a connection was used or objects changed.

    A request answered from caches (a cached session, a cached aggregate) never
    connects; skipping its empty commit saves two greenlet round trips per request.
    """
    sync = session.sync_session
    return used_connection(sync) or bool(sync.new or sync.dirty or sync.deleted)


class DatabaseRoute(APIRoute):
    """The route class of every router (`api_router`): the request's database session,
    made on first use (`database_of`), committed or rolled back once around the endpoint
    and its dependencies, before the response is sent (a sign-in followed at once by
    another request must find its session; a failed commit is still an error answer).

    A route wrapper rather than a dependency with `yield`: FastAPI resolves such a
    dependency on every request, and a cached answer needs no database at all.

    GET routes whose dependencies decide who asks (`response_cache.who_asks`) take part
    in the response cache (core/response_cache.py): those dependencies run first, then
    the kept answer is sent when there is one, without solving the others or calling
    the endpoint.

    Built on first use: what finding a route reads (its path, pattern, methods, name) is
    set at once, FastAPI's own part (the dependencies solved from the signature, the
    response model's validator, the handler) when anything else is first read: the
    route's first request, or the OpenAPI document. Building all 123 took ~0.17 s of
    every start (docs/performance.md, "Routes built on first use"); a server answers
    with the few its users ask for. A route that cannot be built fails where it is
    first read (`tests/core/test_routes_built_on_first_use.py` builds every one)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        # As FastAPI sets them (`_populate_api_route_state`), which the build repeats.
        self.path = path
        self.endpoint = endpoint
        name = options.get("name")
        self.name = get_name(endpoint) if name is None else name
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.methods = {method.upper() for method in options.get("methods") or ["GET"]}
        self.include_in_schema = options.get("include_in_schema", True)
        self._unbuilt_options = options

    def __getattr__(self, name: str) -> Any:
        """Only for what is not set yet: builds the route, then reads it again."""
        options = self.__dict__.pop("_unbuilt_options", None)
        if options is None:
            raise AttributeError(name)
        APIRoute.__init__(self, self.path, self.endpoint, **options)
        return getattr(self, name)

    @property
    def built(self) -> bool:
        return "_unbuilt_options" not in self.__dict__

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        gates = response_cache.gates_of(self.dependant) if "GET" in (self.methods or ()) else ()

        async def with_database(request: Request) -> Response:
            return await _run_with_database(request, handler, gates)

        return with_database


async def _run_with_database(
    request: Request, handler: Handler, gates: tuple[response_cache.Gate, ...]
) -> Response:
    cache = _response_cache_of(request) if gates else None
    key = response_cache.begin(request.scope) if cache is not None else None
    try:
        return await _answer_with_database(request, handler, gates, cache, key)
    finally:
        if cache is not None and key is not None:
            response_cache.finish(cache, key, request.scope)


async def _kept_or_handled(
    request: Request,
    handler: Handler,
    gates: tuple[response_cache.Gate, ...],
    cache: response_cache.ResponseCache | None,
    key: bytes | None,
) -> Response:
    """The route's sign-in dependencies first (who asks, the rate limit); then the kept
    answer when there is one, else the route's own answer."""
    if not gates:
        return await handler(request)
    # What the gates set headers and cookies on: no body, no length (as FastAPI's own
    # response of dependencies).
    asked = response_cache.PreparedResponse(b"", 200, [])
    for gate in gates:
        await gate(request, asked)
    response = None
    if cache is not None and key is not None and response_cache.may_keep(request.scope):
        response = await response_cache.kept_or_made_meanwhile(cache, key, request.scope)
    if response is None:
        response = await handler(request)  # (the gates remember what they decided)
    # The rate limit's headers, on whatever the route answers (FastAPI adds what its
    # dependencies set only to an answer it serializes itself).
    response.raw_headers.extend(asked.raw_headers)
    return response


async def _answer_with_database(
    request: Request,
    handler: Handler,
    gates: tuple[response_cache.Gate, ...],
    cache: response_cache.ResponseCache | None,
    key: bytes | None,
) -> Response:
    ctx: CoreContext = request.app.state.ctx
    lazy = LazySession(ctx.session_factory)
    request.scope[_DATABASE] = lazy
    if cache is not None and key is not None:
        cache.changes.glance_outside()  # before the step the answer is made at
    sequence = data_step()
    try:
        # Bound so that slow work (hashing, outbound calls) can give its idle
        # connection back to the pool first (db/engine.py).
        with bound_session(lazy), recording_reads() as reads:
            response = await _kept_or_handled(request, handler, gates, cache, key)
        if lazy.opened is not None:
            await _commit(lazy.opened)
        if cache is not None and key is not None:
            _keep(cache, key, request, response, sequence, reads)
        return response
    except (OperationalError, DBAPIError, OSError, StaleDataError) as exc:
        failure = await _failed_write(request, lazy.opened, exc)
        if failure is None:
            raise
        raise failure from exc
    except MediaNestError as exc:
        if lazy.opened is not None:
            await _end_refused(request, lazy.opened, exc)
        raise
    except BaseException:
        if lazy.opened is not None:
            forget_after_commit(lazy.opened)
            await lazy.opened.rollback()
        raise
    finally:
        if lazy.opened is not None:
            # Shielded, as `async with session` closes it: a cancelled request still
            # gives its connection back.
            await asyncio.shield(lazy.opened.close())


async def _commit(session: AsyncSession) -> None:
    """The request's one commit (none when nothing touched the database), then what
    waited for it (`after_commit`)."""
    if _touched_database(session):
        await session.commit()
    await run_after_commit(session)


async def _end_refused(request: Request, session: AsyncSession, exc: MediaNestError) -> None:
    """The unit of work of a request answered with an error: kept when the answer is a
    decision that `keeps_writes`, else rolled back."""
    if not exc.keeps_writes:
        forget_after_commit(session)
        await session.rollback()
        return
    try:
        await _commit(session)
    except (OperationalError, DBAPIError, OSError, StaleDataError) as failed:
        failure = await _failed_write(request, session, failed)
        if failure is None:
            raise
        raise failure from exc


async def _failed_write(
    request: Request, session: AsyncSession | None, exc: Exception
) -> MediaNestError | None:
    """What a failed database step answers (None: the error itself, a 500), its unit
    of work rolled back: 503 when the database cannot be reached; the subject's
    refusal (`Subject`) when a write failed on its row deleted meanwhile."""
    if session is not None:
        forget_after_commit(session)
        # The connection may already be gone: a failing rollback must not turn the
        # 503 below into a 500 (found by a fault test).
        with contextlib.suppress(DBAPIError, OSError):
            await session.rollback()
        if isinstance(exc, StaleDataError | IntegrityError):
            return await _refusal_once_gone(request, session)
    if isinstance(exc, StaleDataError) or not _database_unreachable(exc):
        return None
    return ServiceUnavailable(
        "The database is unavailable. Try again shortly.", details={"service": "database"}
    )


@dataclass(frozen=True)
class Subject:
    """The row a request acts for (the signed-in user), and what the request answers
    instead of a 500 when its writes fail once that row is gone."""

    model: type[Base]
    key: tuple[Any, ...]
    refusal: Callable[[], MediaNestError]


SubjectOf = Callable[[Request], Subject | None]
"""The request's subject, asked only when a write failed (auth installs it: core knows
no domain)."""


def install_subject_of(app: FastAPI, subject_of: SubjectOf) -> None:
    """Once, at start: where the session dependency finds a failed request's subject."""
    app.state.subject_of = subject_of


async def _refusal_once_gone(request: Request, session: AsyncSession) -> MediaNestError | None:
    """The subject's refusal when its row is gone: whatever the request wrote, a changed
    row that is gone (StaleDataError) or a new one pointing at it (IntegrityError) then
    means the request's subject went away (an admin deleted the user), not a fault.
    Derived here, on failure, so that a request that succeeds pays nothing for it."""
    subject_of: SubjectOf | None = getattr(request.app.state, "subject_of", None)
    subject = subject_of(request) if subject_of is not None else None
    if subject is None:
        return None
    with contextlib.suppress(DBAPIError, OSError):  # unknown: the error stands
        if not await row_exists(session, subject.model, subject.key):
            return subject.refusal()
    return None


def _create_response_cache(ctx: CoreContext) -> response_cache.ResponseCache:
    settings = ctx.settings
    return response_cache.make_response_cache(
        str(ctx.engine.url),
        settings.response_cache_seconds,
        int(settings.response_cache_megabytes * 1024 * 1024),
    )


_response_caches: PerContext[response_cache.ResponseCache] = PerContext(_create_response_cache)


def _response_cache_of(request: Request) -> response_cache.ResponseCache | None:
    cache = _response_caches.get(request.app.state.ctx)
    return cache if cache is not None and cache.enabled else None


def _keep(
    cache: response_cache.ResponseCache,
    key: bytes,
    request: Request,
    response: Response,
    sequence: int,
    reads: ReadSet,
) -> None:
    if response_cache.may_keep(request.scope):
        cache.keep(key, response, sequence, reads)


def api_router(**options: Any) -> APIRouter:
    """An `APIRouter` whose routes get the request's database session (`DatabaseRoute`)."""
    return APIRouter(route_class=DatabaseRoute, **options)


def database_of(request: Request) -> LazySession:
    """The request's database session, made on first use (`LazySession.session()`)."""
    try:
        lazy: LazySession = request.scope[_DATABASE]
    except KeyError:
        raise RuntimeError("a route outside `api_router`: it has no database session") from None
    return lazy


async def get_db_session(request: Request) -> AsyncSession:
    # One session per request, shared by every dependency that asks for it.
    return database_of(request).session()


SessionDep = Annotated[AsyncSession, Depends(get_db_session)]
