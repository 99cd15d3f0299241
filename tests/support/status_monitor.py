"""Waiting for the status monitor of a test app: its first round starts with the app and
may land at any moment of a test, checking whatever is configured by then."""

from __future__ import annotations

import asyncio

from medianest.app import MediaNestApp
from medianest.dashboard import service as status_service


async def first_aggregate(app: MediaNestApp) -> None:
    """The status monitor's first aggregate in the cache (only the monitor writes it)."""
    for _ in range(200):
        if await app.ctx.cache.get(status_service.CACHE_KEY) is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the status monitor wrote no aggregate within 10 s")
