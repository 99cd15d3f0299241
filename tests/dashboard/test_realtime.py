"""Socket.IO with real clients against served apps: who may connect, which rooms a socket
is in (from its session only), the state on (re)connect, and fan-out over Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import socketio
from tests.support.served_apps import LoopServedApp, Storage, session_cookie
from tests.support.socket_listener import Listener

from medianest.auth.models import User
from medianest.core.realtime import external_emitter
from medianest.dashboard.service import current_status
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator

Serve = Callable[[Settings], Coroutine[Any, Any, LoopServedApp]]


async def overseerr_status(server: LoopServedApp) -> str | None:
    entries = await server.call(lambda: current_status(server.app.ctx))
    return next(e.status for e in entries if e.service == "overseerr")


@pytest.fixture
def redis_required(redis_url: str | None) -> str:
    if redis_url is None:
        pytest.skip("needs Redis (run with --backend=postgres)")
    return redis_url


async def test_an_anonymous_handshake_is_refused(
    serve: Serve, sim_settings: Settings, listeners: Callable[[], Listener]
) -> None:
    server = await serve(sim_settings)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await listeners().connect(server.url)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await listeners().connect(server.url, "medianest_session=forged-token")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await listeners().connect(server.url, auth={"userId": "anything", "token": "forged"})


async def test_a_signed_in_client_gets_the_current_status_at_once_on_connect(
    serve: Serve,
    sim_settings: Settings,
    storage: Storage,
    alice: User,
    listeners: Callable[[], Listener],
) -> None:
    server = await serve(sim_settings)
    cookie = await session_cookie(storage, alice)

    listener = await listeners().connect(server.url, cookie)
    services: set[str] = set()
    async with asyncio.timeout(5):
        while len(services) < 3:
            services.add((await listener.next("service:status"))["service"])

    assert services == {"plex", "overseerr", "uptime_kuma"}


async def test_a_reconnecting_client_gets_the_state_that_changed_while_it_was_away(
    serve: Serve,
    sim_settings: Settings,
    storage: Storage,
    alice: User,
    overseerr: OverseerrSimulator,
    listeners: Callable[[], Listener],
) -> None:
    server = await serve(sim_settings)
    cookie = await session_cookie(storage, alice)
    first = await listeners().connect(server.url, cookie)
    await first.next(
        "service:status", lambda d: d["service"] == "overseerr" and d["status"] == "online"
    )
    await first.close()

    overseerr.set_fault("error")
    for _ in range(100):  # the monitor notices while nobody is connected
        await asyncio.sleep(0.2)
        if await overseerr_status(server) == "offline":
            break
    again = await listeners().connect(server.url, cookie)
    current = await again.next("service:status", lambda d: d["service"] == "overseerr", timeout=5)

    assert current["status"] == "offline"
    assert current["lastCheckAt"]


async def test_a_users_event_does_not_reach_another_user_whatever_they_send(
    serve: Serve,
    sim_settings: Settings,
    storage: Storage,
    alice: User,
    bob: User,
    listeners: Callable[[], Listener],
) -> None:
    server = await serve(sim_settings)
    alice_socket = await listeners().connect(
        server.url, await session_cookie(storage, alice), auth={"userId": str(bob.id)}
    )
    bob_socket = await listeners().connect(server.url, await session_cookie(storage, bob))
    bob_room = f"user:{bob.id}"
    # Every way a client could ask for another room: none may work.
    for event in ("join", "enter_room", "subscribe", "subscribe:user", "room"):
        await alice_socket.client.emit(event, {"room": bob_room, "userId": str(bob.id)})
    await alice_socket.client.call("subscribe:status", {"room": bob_room}, timeout=5)
    await alice_socket.client.emit(bob_room, {"userId": str(bob.id)})

    message = {"type": "info", "message": "for bob only", "timestamp": "2026-01-01T00:00:00Z"}
    await server.call(lambda: server.app.realtime.emit_to_user(bob.id, "notification", message))

    assert await bob_socket.next("notification", timeout=3) == message
    assert await alice_socket.nothing("notification", within=0.5) == []


async def test_a_users_event_reaches_every_socket_of_that_user(
    serve: Serve,
    sim_settings: Settings,
    storage: Storage,
    alice: User,
    listeners: Callable[[], Listener],
) -> None:
    server = await serve(sim_settings)
    tabs = [
        await listeners().connect(server.url, await session_cookie(storage, alice))
        for _ in range(2)
    ]

    payload = {"requestId": "r1", "status": "approved"}
    await server.call(lambda: server.app.realtime.emit_to_user(alice.id, "request:status", payload))

    for tab in tabs:
        assert await tab.next("request:status", timeout=3) == payload


async def test_two_instances_on_one_redis_deliver_an_event_emitted_on_the_other(
    serve: Serve,
    sim_settings: Settings,
    storage: Storage,
    alice: User,
    bob: User,
    redis_required: str,
    listeners: Callable[[], Listener],
) -> None:
    instance_a = await serve(sim_settings)
    instance_b = await serve(sim_settings)
    on_a = await listeners().connect(instance_a.url, await session_cookie(storage, alice))
    bob_on_a = await listeners().connect(instance_a.url, await session_cookie(storage, bob))
    await asyncio.sleep(0.3)  # both managers subscribed to the channel

    progress = {
        "downloadId": "d1",
        "status": "downloading",
        "progress": 40,
        "currentItem": 1,
        "totalItems": 3,
    }
    await instance_b.call(
        lambda: instance_b.app.realtime.emit_to_user(alice.id, "youtube:progress", progress)
    )
    status = {"service": "test", "status": "online", "responseTime": 1.0}
    await instance_b.call(lambda: instance_b.app.realtime.emit_status(status))

    assert await on_a.next("youtube:progress", timeout=5) == progress
    assert await on_a.next("service:status", lambda d: d["service"] == "test", timeout=5) == status
    assert await bob_on_a.nothing("youtube:progress", within=0.5) == []


async def test_a_worker_without_a_server_reaches_clients_through_redis(
    serve: Serve,
    sim_settings: Settings,
    storage: Storage,
    alice: User,
    redis_required: str,
    listeners: Callable[[], Listener],
) -> None:
    server = await serve(sim_settings)
    on_app = await listeners().connect(server.url, await session_cookie(storage, alice))
    await asyncio.sleep(0.3)
    emitter = external_emitter(redis_required)

    try:
        note = {"type": "success", "message": "done", "timestamp": "2026-01-01T00:00:00Z"}
        await emitter.emit_to_user(alice.id, "notification", note)
        await emitter.emit_status({"service": "worker", "status": "online"})
    finally:
        await emitter.aclose()

    assert await on_app.next("notification", timeout=5) == note
    pushed = await on_app.next("service:status", lambda d: d["service"] == "worker", timeout=5)
    assert pushed["status"] == "online"
