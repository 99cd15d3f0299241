"""The migration tests' databases: an empty one per test on SQLite and on PostgreSQL, and
rows written as an older revision's tables hold them (the columns a row needs, typed as
the models bind them), for a revision that changes data to find."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from medianest.db import migrate
from tests.conftest import unavailable
from tests.support import databases

USER_COLUMNS = ("username", "role", "must_change_password", "status", "created_at")
DOWNLOAD_COLUMNS = ("url", "quality", "progress", "delivery", "bytes_downloaded")
DOWNLOAD_COLUMNS += ("attempts", "cancel_requested", "created_at", "items", "status")
T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, str | None]]:
    """(async URL, sync URL on SQLite / None on PostgreSQL) of a database with no tables."""
    if request.param == "sqlite":
        path = tmp_path / "m.db"
        yield databases.sqlite_url(path), f"sqlite:///{path}"
        return
    if not asyncio.run(databases.pg_reachable()):
        unavailable("PostgreSQL")
    name, url = asyncio.run(databases.create_pg_database())
    yield url, None
    asyncio.run(databases.drop_pg_database(name))


def across(
    url: str, revision: str, rows: Callable[[AsyncConnection, bool], Awaitable[T]]
) -> tuple[T, T]:
    """A revision that changes data: the database at `revision` given its rows
    (`rows(conn, True)` writes them), then upgraded to the head; what `rows` gave when it
    wrote, and what it reads after (`rows(conn, False)`), each in a transaction of its own."""
    migrate.upgrade(url, revision)
    before = connected(url, partial(rows, write=True))
    migrate.upgrade(url)
    return before, connected(url, partial(rows, write=False))


def connected(url: str, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """`work` in one transaction on a connection of its own (its engine disposed after)."""

    async def run() -> T:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def users_table(*extra: str) -> sa.TableClause:
    return sa.table(
        "users", sa.column("id", sa.Uuid()), *(sa.column(c) for c in USER_COLUMNS + extra)
    )


async def add_user(conn: AsyncConnection, user_id: uuid.UUID, name: str, **extra: Any) -> None:
    """An active user `name` (`extra`: columns a later revision added)."""
    await conn.execute(
        users_table(*extra)
        .insert()
        .values(
            id=user_id,
            username=name,
            role="user",
            must_change_password=False,
            status="active",
            created_at=datetime.now(UTC),
            **extra,
        )
    )


async def add_download(
    conn: AsyncConnection, user_id: uuid.UUID, url: str, status: str, **extra: Any
) -> None:
    """A finished-looking playlist download of `user_id` (`extra`: its other columns)."""
    downloads = sa.table(
        "youtube_downloads",
        sa.column("id", sa.Uuid()),
        sa.column("user_id", sa.Uuid()),
        *(sa.column(c) for c in DOWNLOAD_COLUMNS + tuple(extra)),
    )
    await conn.execute(
        downloads.insert().values(
            id=uuid.uuid4(),
            user_id=user_id,
            url=url,
            quality="best",
            progress=100.0,
            delivery="playlist",
            bytes_downloaded=0,
            attempts=0,
            cancel_requested=False,
            created_at=datetime.now(UTC),
            items=sa.text("'[]'"),
            status=status,
            **extra,
        )
    )
