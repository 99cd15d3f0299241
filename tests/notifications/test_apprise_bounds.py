"""Apprise channels whose host trickles its answer (a byte a second, for minutes): each
send ends at the bound and gives its thread back, so other users' messages and
password sign-ins go on meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.notifications import channels, senders
from medianest.notifications.models import DeliveryStatus
from tests.auth.flows import password_sign_in
from tests.factories.users import TEST_PASSWORD, create_user, make_client, signed_in_client
from tests.notifications.receivers import HttpReceiver
from tests.notifications.test_delivery import add_channel, deliveries, notify

# More than Apprise's own pool (cores + 4 threads) and than MediaNest's Apprise threads.
STUCK_CHANNELS = 8
# The head byte by byte, every read within Apprise's 4 s read timeout: ~4 min in all.
TRICKLED_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n" + b" " * 200


class TricklingHost:
    """A JSON webhook host on 127.0.0.1 that reads a request and trickles its answer."""

    def __init__(self) -> None:
        self.connections = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            for byte in TRICKLED_ANSWER:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1.0)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the sender hung up, as it should (or the test is over)
        finally:
            writer.close()

    async def start(self) -> TricklingHost:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        self.url = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def wait_for_connections(self, count: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while self.connections < count:
                await asyncio.sleep(0.05)


@pytest.fixture
async def trickling_host() -> AsyncIterator[TricklingHost]:
    host = await TricklingHost().start()
    yield host
    await host.stop()


@pytest.fixture
async def dave_client(app: MediaNestApp) -> AsyncIterator[httpx.AsyncClient]:
    dave = await create_user(app, "dave", plex_id="1004", plex_token="dave-plex-token")
    async with await signed_in_client(app, dave) as signed_in:
        yield signed_in


async def start_stuck_tests(
    clients: Sequence[httpx.AsyncClient], host: TricklingHost
) -> list[asyncio.Task[httpx.Response]]:
    """The users press "test" on each of their channels pointing at the host: more users
    than one, since each may test only `channels.TESTS_PER_MINUTE` times a minute."""
    assert len(clients) * channels.TESTS_PER_MINUTE >= STUCK_CHANNELS
    pressed = []
    for n in range(STUCK_CHANNELS):
        client = clients[n % len(clients)]
        url = f"json://{host.url}/stuck{n}"
        pressed.append((client, await add_channel(client, url, ["download.failed"])))
    tasks = [
        asyncio.create_task(client.post(f"/api/notifications/channels/{channel_id}/test"))
        for client, channel_id in pressed
    ]
    await host.wait_for_connections(3)  # sends are in flight, holding threads
    return tasks


async def test_channels_that_trickle_their_answer_do_not_hold_another_users_notifications(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    dave_client: httpx.AsyncClient,
    webhook: HttpReceiver,
    trickling_host: TricklingHost,
) -> None:
    await add_channel(alice_client, f"json://127.0.0.1:{webhook.port}/alice", ["download.finished"])
    started = time.monotonic()
    stuck = await start_stuck_tests([bob_client, dave_client], trickling_host)

    await notify(app, alice, "Your playlist finished downloading")

    # Within one send's bound and room to spare, though bob's hosts trickle for minutes.
    received = await webhook.wait_for(1, timeout=senders.SEND_TIMEOUT_SECONDS + 8.0)
    assert received[0].json()["title"] == "Your playlist finished downloading"
    answers = await asyncio.gather(*stuck)
    assert time.monotonic() - started < senders.SEND_TIMEOUT_SECONDS + 10.0
    for answer in answers:
        result = answer.json()["data"]
        assert result["ok"] is False and "did not answer" in result["reason"], result


async def test_a_delivery_to_a_trickling_host_ends_at_the_bound_and_is_retried(
    app: MediaNestApp,
    bob: User,
    bob_client: httpx.AsyncClient,
    trickling_host: TricklingHost,
) -> None:
    await add_channel(bob_client, f"json://{trickling_host.url}/bob", ["download.finished"])
    await notify(app, bob, "Your video is ready")

    async with asyncio.timeout(senders.SEND_TIMEOUT_SECONDS + 10.0):
        while not (tried := [d for d in await deliveries(app) if d.channel_id and d.attempts]):
            await asyncio.sleep(0.1)
    # Recorded as any failure is: pending again with backoff, its reason kept.
    assert tried[0].status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    assert "did not answer within 10 s" in (tried[0].last_error or "")
    listed = (await bob_client.get("/api/notifications/channels")).json()["data"]
    assert listed[0]["lastStatus"] == "failed"


async def test_password_sign_in_works_while_several_apprise_channels_are_stuck(
    app: MediaNestApp,
    bob_client: httpx.AsyncClient,
    dave_client: httpx.AsyncClient,
    trickling_host: TricklingHost,
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    stuck = await start_stuck_tests([bob_client, dave_client], trickling_host)

    async with make_client(app) as browser:
        started = time.monotonic()
        signed_in = await password_sign_in(browser, "carol", TEST_PASSWORD)
        seconds = time.monotonic() - started

    assert signed_in.status_code == 200, signed_in.text
    assert seconds < 5.0  # not after the stuck sends (10 s and more)
    assert not any(task.done() for task in stuck)  # they were stuck all along
    await asyncio.gather(*stuck)
