"""Helpers for the operations tests: run the `medianest` command, read whole databases."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from medianest.models import Base
from tests.support.cli import Ran, invoke_medianest


def run_medianest(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    return subprocess.run(
        [sys.executable, "-m", "medianest.cli", *args],
        env={**clean, "MEDIANEST_ENVIRONMENT": "test", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_medianest_in_process(*args: str, env: dict[str, str]) -> Ran:
    """The same command and environment as `run_medianest`, without a process start."""
    return invoke_medianest(*args, env={"MEDIANEST_ENVIRONMENT": "test", **env})


async def table_contents(engine: AsyncEngine) -> dict[str, list[str]]:
    """Every row of every table (and the Alembic revision), sorted, for equality checks."""
    contents: dict[str, list[str]] = {}
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = (await connection.execute(select(table))).all()
            contents[table.name] = sorted(repr(tuple(row)) for row in rows)
        revision = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
        contents["alembic_version"] = [repr(tuple(row)) for row in revision]
    return contents


def non_empty(contents: dict[str, Any]) -> list[str]:
    return [name for name, rows in contents.items() if rows]
