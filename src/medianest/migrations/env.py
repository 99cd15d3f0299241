"""Alembic environment (async template): migrations run on SQLite and PostgreSQL alike,
one process at a time (db/migration_lock.py): the lock is taken before Alembic reads the
current revision, so a process that waited finds the head and runs nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from medianest.db.migration_lock import DEFAULT_LOCK_TIMEOUT_SECONDS, migration_lock
from medianest.models import Base

config = context.config
target_metadata = Base.metadata


def _count_step(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
) -> None:
    # db/migrate.py reports whether this process ran a step or found them done.
    config.attributes["steps_applied"] = config.attributes.get("steps_applied", 0) + 1


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        on_version_apply=_count_step,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_async_engine(url, poolclass=pool.NullPool)
    timeout = config.attributes.get("migration_lock_timeout", DEFAULT_LOCK_TIMEOUT_SECONDS)
    async with engine.connect() as connection, migration_lock(connection, url, timeout):
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
