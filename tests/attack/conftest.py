"""Attack-suite fixtures: the app served by `medianest serve` as its own process, so a
flood is real concurrent HTTP on loopback, against the backend's storage."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from medianest.settings import Settings
from tests.faults.support import AppProcess


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Awaitable[AppProcess]]]:
    """Start `medianest serve` with the given settings; stopped after the test.

    The wait for it to answer runs in a thread: the test's own in-process app shares the
    SQLite file, and a loop blocked mid-transaction would hold the write lock the served
    process needs to start."""
    started: list[AppProcess] = []

    async def start(settings: Settings, **extra_env: Any) -> AppProcess:
        process = AppProcess(settings, tmp_path / f"server-{len(started)}.log", **extra_env)
        started.append(process)
        return await asyncio.to_thread(process.start)

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def attack_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings of a served app under attack: the API limit out of the bystander's way."""

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"rate_limit_api_per_minute": 100_000, "log_level": "WARNING"}
        values.update(overrides)
        return make_settings(**values)

    return factory
