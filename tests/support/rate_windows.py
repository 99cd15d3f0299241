"""Rate limits count in a sliding window over fixed windows (limits' sliding window counter):
the previous window's count is weighed down as the current one goes on, so requests that
straddle a window's end may pass beyond the limit, by design. A test that counts requests
up to a limit starts where the window has room to finish."""

from __future__ import annotations

import asyncio
import time


async def room_in_the_window(period_seconds: float = 60.0, needed_seconds: float = 15.0) -> None:
    """Wait for the next window if fewer than `needed_seconds` are left in this one."""
    left = period_seconds - time.time() % period_seconds
    if left < needed_seconds:
        await asyncio.sleep(left + 0.1)
