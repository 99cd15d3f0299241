"""Waiting, in a test, for a simulator to have received a request it holds."""

from __future__ import annotations

import asyncio
import time

from medianest_simulators.base import Simulator


async def until_received(
    simulator: Simulator, path: str, method: str, *, count: int = 1, seconds: float = 10
) -> None:
    """Until `simulator` has received `count` `method` requests to `path` (e.g. one it
    holds with `hold_requests`); fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while simulator.request_count(path, method) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{method} {path} did not arrive within {seconds} s")
        await asyncio.sleep(0.05)
