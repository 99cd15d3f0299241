"""Run Alembic migrations from code (used at start, by `medianest migrate` and by tests).

Alembic is imported only when a migration has to run: a restart on a database that is
already current (the usual case) reads one row instead, which keeps Alembic and Mako
out of the server process (about 11 MB of resident memory and 0.2 s of start-up).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from medianest.db.engine import create_engine
from medianest.db.migration_lock import DEFAULT_LOCK_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.ext.asyncio import AsyncEngine

# Beside the packages, not in db/: its env.py loads every model (medianest.models).
MIGRATIONS_DIR = Path(__file__).parents[1] / "migrations"
# The newest revision. tests/db checks it against Alembic's own idea of the head, so a
# new migration cannot be added without moving this along.
HEAD_REVISION = "rr_1"


def alembic_config(database_url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["migration_lock_timeout"] = lock_timeout  # read by env.py
    return config


def upgrade(
    database_url: str, revision: str = "head", lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS
) -> bool:
    """Upgrade to `revision` under the migration lock (db/migration_lock.py), waiting
    for another process's migration at most `lock_timeout` seconds (then
    `MigrationLockTimeout`). True when this process applied a step; False when it found
    them applied, another process having run them while it waited."""
    from alembic import command

    config = alembic_config(database_url, lock_timeout)
    command.upgrade(config, revision)
    return bool(config.attributes.get("steps_applied"))


def downgrade(
    database_url: str, revision: str = "base", lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS
) -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url, lock_timeout), revision)


async def upgrade_async(
    database_url: str, revision: str = "head", lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS
) -> bool:
    # env.py runs its own event loop for the async engine, so keep it off ours.
    return await asyncio.to_thread(upgrade, database_url, revision, lock_timeout)


async def current_revision(database_url: str, engine: AsyncEngine | None = None) -> str | None:
    """The revision the database is at, or None (no schema yet, or unreadable). Read
    through `engine` when given (`serve` hands the same engine to its app); its
    connections are closed afterwards either way: they belong to this call's loop."""
    engine = engine or create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            versions = [row[0] for row in rows]
    except DBAPIError:  # no alembic_version table: a new database
        return None
    finally:
        await engine.dispose()
    return versions[0] if len(versions) == 1 else None


async def upgrade_if_needed(
    database_url: str,
    engine: AsyncEngine | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> bool:
    """Migrate to the head unless the database is there already; True when it ran.

    Several processes may start at once on an older database (replicas, `serve` +
    `worker`): the check here takes no lock, the upgrade does, and Alembic reads the
    revision again under it, so one process migrates and the others wait for it (at most
    `lock_timeout` seconds) and then find the head (db/migration_lock.py)."""
    if await current_revision(database_url, engine) == HEAD_REVISION:
        return False
    return await upgrade_async(database_url, lock_timeout=lock_timeout)


def is_known_revision(revision: str) -> bool:
    """Whether this MediaNest's migrations include `revision` exactly (Alembic's own
    lookup also accepts a prefix); a database from a newer MediaNest's is not."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return revision in {step.revision for step in script.walk_revisions()}
