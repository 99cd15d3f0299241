"""The app's stop ends python-socketio's Redis listener (started with the first socket),
even when redis-py turned the cancellation into an error that the listener retries on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from medianest.app import create_app
from medianest.core import pubsub
from medianest.core.loops import cancel_until_done
from medianest.settings import Settings
from tests.support.silent_redis import cancelled_subscribes_raise_errors, silent_redis


async def test_the_apps_stop_ends_the_socket_listener_that_took_its_cancel_as_an_error(
    monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings]
) -> None:
    turned = cancelled_subscribes_raise_errors(monkeypatch)
    monkeypatch.setattr(pubsub, "LISTEN_WAIT_SECONDS", 0.3)  # our own relays' start
    listener: asyncio.Task[Any] | None = None
    async with silent_redis() as (url, _accepted):
        app = create_app(make_settings(redis_url=url), run_migrations=False, housekeeping=False)
        try:
            async with app.fastapi.router.lifespan_context(app.fastapi):
                manager = app.realtime.sio.manager
                manager.initialize()  # what the first socket's handshake does
                listener = manager.thread
                await asyncio.sleep(0.2)  # subscribing to a Redis that never answers
                assert not listener.done()
            assert listener.done(), "the Socket.IO listener outlived the app's stop"
            assert "cancel" in turned  # the cancellation did arrive mid-read and was turned
        finally:
            if listener is not None:
                await cancel_until_done(listener, within=5)  # (the old code's, for teardown)
