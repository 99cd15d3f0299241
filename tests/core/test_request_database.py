"""The request's database session (core/deps.py): made on first use by any route of an
`api_router`, committed once if the route wrote, rolled back on an error unless the
error keeps the writes, and never made for a route that does not ask for it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

import medianest
from medianest.app import MediaNestApp
from medianest.core.deps import SessionDep, api_router
from medianest.core.errors import Conflict
from medianest.core.handlers import add_exception_handlers
from medianest.dashboard.models import ServiceStatus
from medianest.db.engine import after_commit, session_scope

SOURCE = Path(medianest.__file__).parent


class KeptConflict(Conflict):
    keeps_writes = True


told: list[tuple[str, bool]] = []  # what the after-commit actions saw


@pytest.fixture
async def http(app: MediaNestApp) -> AsyncIterator[tuple[httpx.AsyncClient, list[Any]]]:
    """A small app of `api_router` routes on the test database; the list holds every
    session the factory made."""
    made: list[Any] = []
    told.clear()

    def factory() -> AsyncSession:
        session = app.ctx.session_factory()
        made.append(session)
        return session

    router = api_router()
    plain = APIRouter()

    async def write(session: AsyncSession, name: str) -> None:
        session.add(ServiceStatus(service_name=name, status="online"))
        await session.flush()

    @router.post("/write/{name}")
    async def write_and_answer(name: str, session: SessionDep) -> dict[str, bool]:
        await write(session, name)
        return {"written": True}

    @router.post("/write-then-fail/{name}")
    async def write_then_fail(name: str, session: SessionDep) -> None:
        await write(session, name)
        raise Conflict("refused")

    @router.post("/write-then-decide/{name}")
    async def write_then_decide(name: str, session: SessionDep) -> None:
        await write(session, name)
        raise KeptConflict("decided")

    @router.post("/write-then-tell/{name}")
    async def write_then_tell(name: str, session: SessionDep) -> dict[str, bool]:
        await write(session, name)

        async def tell() -> None:  # what must follow the commit: sees the row committed
            told.append((name, await stored(app, name)))

        after_commit(session, tell)
        return {"written": True}

    @router.post("/write-tell-then-fail/{name}")
    async def write_tell_then_fail(name: str, session: SessionDep) -> None:
        await write(session, name)

        async def tell() -> None:
            told.append((name, True))

        after_commit(session, tell)
        raise Conflict("refused")

    @router.get("/nothing")
    async def nothing() -> dict[str, bool]:
        return {"ok": True}

    @plain.get("/outside")
    async def outside(session: SessionDep) -> dict[str, bool]:
        return {"ok": True}

    small = FastAPI()
    small.state.ctx = SmallContext(factory, app)
    add_exception_handlers(small)
    small.include_router(router)
    small.include_router(plain)
    transport = httpx.ASGITransport(app=small, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, made


class SmallContext:
    """What `api_router` routes need of the context (held weakly: not a SimpleNamespace)."""

    def __init__(self, factory: Any, app: MediaNestApp) -> None:
        self.session_factory = factory
        self.settings = app.ctx.settings
        self.engine = app.ctx.engine


async def stored(app: MediaNestApp, name: str) -> bool:
    async with session_scope(app.ctx.session_factory) as session:
        return await session.get(ServiceStatus, name) is not None


async def test_a_route_that_asks_for_no_session_makes_none(
    http: tuple[httpx.AsyncClient, list[Any]],
) -> None:
    client, made = http
    assert (await client.get("/nothing")).status_code == 200
    assert made == []


async def test_writes_commit_once_the_route_answered(
    app: MediaNestApp, http: tuple[httpx.AsyncClient, list[Any]]
) -> None:
    client, made = http
    assert (await client.post("/write/kept")).status_code == 200
    assert len(made) == 1
    assert await stored(app, "kept")


async def test_an_error_rolls_back_unless_it_keeps_the_writes(
    app: MediaNestApp, http: tuple[httpx.AsyncClient, list[Any]]
) -> None:
    client, _ = http
    assert (await client.post("/write-then-fail/dropped")).status_code == 409
    assert not await stored(app, "dropped")
    assert (await client.post("/write-then-decide/decided")).status_code == 409
    assert await stored(app, "decided")


async def test_after_commit_actions_run_once_committed_and_never_after_a_rollback(
    http: tuple[httpx.AsyncClient, list[Any]],
) -> None:
    client, _ = http
    assert (await client.post("/write-then-tell/told")).status_code == 200
    assert told == [("told", True)]  # ran before the answer, and the row was committed
    assert (await client.post("/write-tell-then-fail/untold")).status_code == 409
    assert told == [("told", True)]


async def test_a_unit_of_work_runs_its_actions_after_commit_or_keeps_writes_on_a_decision(
    app: MediaNestApp,
) -> None:
    seen: list[str] = []

    async def note() -> None:
        seen.append("ran")

    async with session_scope(app.ctx.session_factory) as session:
        session.add(ServiceStatus(service_name="unit", status="online"))
        after_commit(session, note)
    assert seen == ["ran"] and await stored(app, "unit")
    with pytest.raises(Conflict):
        async with session_scope(app.ctx.session_factory) as session:
            session.add(ServiceStatus(service_name="unit-dropped", status="online"))
            after_commit(session, note)
            raise Conflict("refused")
    assert seen == ["ran"] and not await stored(app, "unit-dropped")
    with pytest.raises(Conflict):
        async with session_scope(app.ctx.session_factory) as session:
            session.add(ServiceStatus(service_name="unit-kept", status="online"))
            raise Conflict("decided", keeps_writes=True)
    assert await stored(app, "unit-kept")


def test_only_the_session_dependency_and_units_of_work_commit() -> None:
    """Commits stay in one place (core/deps.py for requests, db/engine.py for units of
    work); what must follow a commit is an `after_commit` action, an error that must not
    undo what was written says `keeps_writes`. The subscription scheduler commits each
    subscription's turn on its own (a background loop, not a request). The migration lock
    commits its own lock query on Alembic's connection before Alembic starts, as the
    migrations themselves do (db/migration_lock.py)."""
    allowed = {
        "core/deps.py",
        "db/engine.py",
        "db/migration_lock.py",
        "youtube/subscriptions/scheduler.py",
    }
    committing = sorted(
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if "migrations" not in path.parts and ".commit()" in path.read_text()
    )
    assert set(committing) <= allowed, committing


async def test_a_route_outside_api_router_is_refused_a_session(
    http: tuple[httpx.AsyncClient, list[Any]],
) -> None:
    client, made = http
    assert (await client.get("/outside")).status_code == 500
    assert made == []


def test_every_router_of_the_app_is_an_api_router() -> None:
    """Only `api_router` routes commit the session; a plain `APIRouter` would not."""
    plain = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if path.name != "deps.py" and re.search(r"\bAPIRouter\(", path.read_text())
    ]
    assert plain == []
