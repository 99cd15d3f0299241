"""Background loops stop even when a round turns the stop's cancellation into an error, as
redis-py does when a cancel arrives in the middle of a read (core/loops.py, `stop_loop`).
Before, such a round's `except Exception` caught it, the loop ran on and the app's stop
waited for ever (a suite run hung 120 s in the Plex audience sweep's stop)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from medianest.auth.plex_sign_in import access
from medianest.auth.sessions import maintenance
from medianest.core import loops
from medianest.settings import Settings


def cancel_turned_into_an_error(calls: list[int]) -> Callable[..., Any]:
    """A round that waits, and answers the first cancellation with an ordinary error (a
    cancel landing mid-read); later ones end it as usual."""

    async def round_(*_args: Any, **_kwargs: Any) -> int:
        calls.append(1)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if len(calls) > 1:
                raise
            raise ConnectionError("Connection closed by server.") from None
        return 0

    return round_


@pytest.mark.parametrize(
    ("module", "round_name", "starter_name", "interval_setting"),
    [
        (access, "sweep_removed_users", "start_audience_sweep", "plex_audience_refresh_seconds"),
        (maintenance, "purge_expired", "start_expired_purge", "session_purge_interval_seconds"),
    ],
)
async def test_a_loop_whose_round_swallows_the_cancel_still_stops(
    monkeypatch: pytest.MonkeyPatch,
    app_factory: Callable[..., Any],
    make_settings: Callable[..., Settings],
    module: Any,
    round_name: str,
    starter_name: str,
    interval_setting: str,
) -> None:
    app = await app_factory(make_settings(**{interval_setting: 0.05}))
    calls: list[int] = []
    monkeypatch.setattr(module, round_name, cancel_turned_into_an_error(calls))
    monkeypatch.setattr(loops, "STOP_LOOP_SECONDS", 2.0)
    stop = await getattr(module, starter_name)(app.ctx)
    for _ in range(100):
        if calls:
            break
        await asyncio.sleep(0.02)
    assert calls, "the loop never ran a round"
    stopping = asyncio.create_task(stop())
    done, _ = await asyncio.wait({stopping}, timeout=4.0)  # (asyncio.wait cancels nothing)
    if not done:
        stopping.cancel()  # reaches the loop through the awaited task
        with contextlib.suppress(asyncio.CancelledError):
            await stopping
    assert done, "the stop did not return: the loop ran on after its round caught the cancel"
