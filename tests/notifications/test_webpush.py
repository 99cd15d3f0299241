"""Web push end to end: a browser-like subscription (its own P-256 key pair and auth
secret) is saved through the API; the push endpoint on loopback receives an RFC 8291
aes128gcm body that only the subscription's private key decrypts, signed with the app's
VAPID key (RFC 8292) for the endpoint's origin."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator

import http_ece
import httpx
import pytest
from py_vapid import Vapid02

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.notifications import senders, service
from tests.notifications.receivers import BrowserKeys, HttpReceiver


def decrypt(body: bytes, keys: BrowserKeys) -> dict:
    plain = http_ece.decrypt(
        body, private_key=keys.private_key, auth_secret=keys.auth_secret, version="aes128gcm"
    )
    return json.loads(plain)


def jwt_claims(authorization: str) -> dict:
    token = authorization.split("t=", 1)[1].split(",", 1)[0]
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def subscribe(
    client: httpx.AsyncClient, push_service: HttpReceiver, keys: BrowserKeys, path: str = "/push/1"
) -> dict:
    answer = await client.post(
        "/api/notifications/channels",
        json={
            "subscription": keys.subscription(push_service.url + path),
            "events": ["download.finished", "request.available"],
        },
    )
    assert answer.status_code == 201, answer.text
    data: dict = answer.json()["data"]
    return data


async def test_a_push_message_decrypts_with_the_subscriptions_keys_and_carries_a_vapid_token(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, push_service: HttpReceiver
) -> None:
    keys = BrowserKeys()
    channel = await subscribe(alice_client, push_service, keys)
    assert channel["kind"] == "webpush" and channel["label"] == "web push via 127.0.0.1"
    public_key = (await alice_client.get("/api/notifications/push-key")).json()["data"]["publicKey"]

    async with session_scope(app.ctx.session_factory) as session:
        await service.notify(
            session, user_ids=[alice.id], event="download.finished", title="Done", body="3 videos"
        )
    received = (await push_service.wait_for(1))[0]

    assert received.path == "/push/1"
    assert received.headers["Content-Encoding"] == "aes128gcm"
    assert int(received.headers["TTL"]) > 0
    message = decrypt(received.body, keys)
    assert message["title"] == "Done" and message["body"] == "3 videos"
    assert message["event"] == "download.finished" and message["url"] == "/notifications"
    # Nobody else can read it: another key pair fails.
    try:
        decrypt(received.body, BrowserKeys())
    except Exception:
        pass
    else:
        raise AssertionError("a stranger's keys decrypted the message")

    authorization = received.headers["Authorization"]
    assert authorization.startswith("vapid ")
    assert Vapid02.verify(authorization)
    assert authorization.split("k=", 1)[1] == public_key
    claims = jwt_claims(authorization)
    assert claims["aud"] == push_service.url and claims["sub"].startswith("mailto:")


async def test_a_subscription_the_push_service_says_is_gone_fails_at_once(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, push_service: HttpReceiver
) -> None:
    await subscribe(alice_client, push_service, BrowserKeys())
    push_service.answer = 410
    async with session_scope(app.ctx.session_factory) as session:
        await service.notify(session, user_ids=[alice.id], event="download.finished", title="x")
    async with asyncio.timeout(10):
        while True:
            channel = (await alice_client.get("/api/notifications/channels")).json()["data"][0]
            if channel["lastStatus"] is not None:
                break
            await asyncio.sleep(0.05)
    assert channel["lastStatus"] == "gone" and "410" in channel["lastError"]
    await asyncio.sleep(1.0)
    assert len(push_service.refused) == 1  # gone is gone: no retries
    # Later events are not queued for it any more.
    async with session_scope(app.ctx.session_factory) as session:
        await service.notify(session, user_ids=[alice.id], event="download.finished", title="y")
    await asyncio.sleep(1.0)
    assert len(push_service.refused) == 1


async def test_the_subscription_keys_are_never_shown_and_a_resubscribe_updates_one_channel(
    alice_client: httpx.AsyncClient, push_service: HttpReceiver
) -> None:
    keys = BrowserKeys()
    first = await subscribe(alice_client, push_service, keys)
    second = await subscribe(alice_client, push_service, keys)
    assert first["id"] == second["id"]
    listed = (await alice_client.get("/api/notifications/channels")).text
    sub = keys.subscription(push_service.url + "/push/1")
    assert sub["keys"]["auth"] not in listed and sub["keys"]["p256dh"] not in listed
    assert "/push/1" not in listed


async def test_malformed_subscriptions_get_a_400(alice_client: httpx.AsyncClient) -> None:
    for subscription in (
        {"endpoint": "https://push.example/x"},
        {"endpoint": "ftp://push.example/x", "keys": {"p256dh": "a", "auth": "b"}},
        {"endpoint": 5, "keys": {"p256dh": "a", "auth": "b"}},
        {"endpoint": "https://push.example/x", "keys": {"p256dh": "a" * 500, "auth": "b"}},
    ):
        answer = await alice_client.post(
            "/api/notifications/channels", json={"subscription": subscription}
        )
        assert answer.status_code == 400, subscription
        assert answer.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_a_subscription_with_keys_that_are_not_a_point_fails_with_a_reason(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, push_service: HttpReceiver
) -> None:
    answer = await alice_client.post(
        "/api/notifications/channels",
        json={
            "subscription": {
                "endpoint": push_service.url + "/p",
                "keys": {"p256dh": "AAAA", "auth": "BBBB"},
            }
        },
    )
    channel_id = answer.json()["data"]["id"]
    tested = await alice_client.post(f"/api/notifications/channels/{channel_id}/test")
    assert tested.json()["data"]["ok"] is False
    assert "invalid" in tested.json()["data"]["reason"]
    assert push_service.received == []


# 201 at once, then 60 body bytes; or the same answer with its head sent byte by byte.
TRICKLED_ANSWER = b"HTTP/1.1 201 Created\r\nContent-Length: 60\r\n\r\n" + b" " * 60


@pytest.fixture
async def trickling_push_service() -> AsyncIterator[tuple[str, list[int]]]:
    """A push endpoint a plain user can point a subscription at, trickling its answer a
    byte every 0.5 s (30 s and more in all) from the byte `start[0]` on."""
    start = [len(TRICKLED_ANSWER) - 60]

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(TRICKLED_ANSWER[: start[0]])
            for byte in TRICKLED_ANSWER[start[0] :]:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.5)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the sender hung up, as it should
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", start
    server.close()


async def _test_send(client: httpx.AsyncClient, endpoint: str) -> tuple[dict, float]:
    answer = await client.post(
        "/api/notifications/channels",
        json={"subscription": BrowserKeys().subscription(endpoint + "/push/1")},
    )
    channel_id = answer.json()["data"]["id"]
    started = time.monotonic()
    tested = await client.post(f"/api/notifications/channels/{channel_id}/test")
    return tested.json()["data"], time.monotonic() - started


async def test_a_push_endpoint_that_trickles_its_answer_does_not_hold_the_sender(
    alice_client: httpx.AsyncClient, trickling_push_service: tuple[str, list[int]]
) -> None:
    # The push service's status is all a send needs: its body, however slow, is not
    # waited for (the delivery worker sends one message at a time, for every user).
    result, seconds = await _test_send(alice_client, trickling_push_service[0])

    assert seconds < 5.0  # not the 30 s of the body
    assert result["ok"] is True, result


async def test_a_push_endpoint_that_trickles_its_status_fails_at_the_send_timeout(
    alice_client: httpx.AsyncClient, trickling_push_service: tuple[str, list[int]]
) -> None:
    url, start = trickling_push_service
    start[0] = 0  # every read comes within the timeout, the head not for 20 s

    result, seconds = await _test_send(alice_client, url)

    assert seconds < senders.SEND_TIMEOUT_SECONDS + 4.0
    assert result["ok"] is False and "unreachable" in result["reason"]
