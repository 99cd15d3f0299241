"""Plex PIN sign-in against the plex.tv simulator on loopback: the full flow, expiry,
denial, a PIN bound to its browser, polling backoff, and plex.tv being down."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.cookies import REMEMBER_COOKIE, SESSION_COOKIE
from medianest.auth.models import User
from medianest.auth.plex_sign_in import service as plex_service
from medianest.db.engine import session_scope
from medianest.integrations.plextv import PlexAccount
from medianest.settings import Settings
from medianest_simulators import PlexTvSimulator
from medianest_simulators.plextv_models import ALICE_TOKEN
from tests.auth.flows import audit_actions, cookie, poll_until_settled, start_pin
from tests.factories.users import create_user, make_client


async def _user(app: MediaNestApp, username: str) -> User | None:
    async with session_scope(app.ctx.session_factory) as session:
        found: User | None = await session.scalar(select(User).where(User.username == username))
        return found


async def test_full_pin_flow_signs_in_a_new_plex_user_as_a_plain_user(
    plex_app: MediaNestApp, browser: httpx.AsyncClient, plextv: PlexTvSimulator
) -> None:
    pin = await start_pin(browser, remember_me=True)
    assert len(pin["code"]) >= 16  # a strong PIN
    prefix = f"{plextv.url}/auth/#!?"
    assert pin["authUrl"].startswith(prefix)
    query = urllib.parse.parse_qs(pin["authUrl"][len(prefix) :])
    assert query["code"] == [pin["code"]]
    assert query["context[device][product]"] == ["MediaNest"]
    client_id = query["clientID"][0]

    pending = await browser.get(f"/api/auth/plex/pin/{pin['id']}")
    assert pending.json()["data"]["status"] == "pending"

    httpx.post(f"{plextv.url}/__sim/pins/{pin['id']}/approve", json={"username": "alice"})
    done = await poll_until_settled(browser, pin["id"])
    assert done.status_code == 200, done.text
    data = done.json()["data"]
    assert data["status"] == "authorized"
    assert data["user"]["username"] == "alice" and data["user"]["role"] == "user"
    assert data["user"]["plexLinked"] is True
    assert cookie(browser, SESSION_COOKIE) and cookie(browser, REMEMBER_COOKIE)
    session = await browser.get("/api/auth/session")
    assert session.json()["data"]["user"]["username"] == "alice"

    alice = await _user(plex_app, "alice")
    assert alice is not None and alice.plex_id is not None and alice.email
    assert alice.plex_token and ALICE_TOKEN not in alice.plex_token
    assert plex_app.ctx.secret_box.decrypt(alice.plex_token, context="plex_token") == ALICE_TOKEN

    # Every plex.tv call carried the Plex client headers.
    for request in plextv.requests():
        assert request.headers["x-plex-client-identifier"] == client_id
        assert request.headers["x-plex-product"] == "MediaNest"
        # plex.tv's share lists exist only as XML; everything else is asked for as JSON.
        xml_only = request.path in ("/api/users", "/api/home/users")
        assert request.headers["accept"] == ("application/xml" if xml_only else "application/json")
    assert "auth.login" in [action for action, _ in await audit_actions(plex_app)]


async def test_complete_endpoint_signs_in_like_a_successful_poll(
    plex_app: MediaNestApp, browser: httpx.AsyncClient, plextv: PlexTvSimulator
) -> None:
    pin = await start_pin(browser)
    plextv.approve_pin(pin["id"], "bob")
    response = await browser.post("/api/auth/plex", json={"pinId": pin["id"], "rememberMe": False})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["user"]["username"] == "bob"
    assert cookie(browser, REMEMBER_COOKIE) is None
    # A PIN signs in once.
    again = await browser.post("/api/auth/plex", json={"pinId": pin["id"]})
    assert again.status_code == 404


async def test_a_sign_in_that_loses_the_race_to_create_the_user_takes_the_winners_row(
    plex_app: MediaNestApp, backend: str
) -> None:
    """Two devices signing in the same new Plex account at once: both looked the user up
    before either committed. Made deterministic with a REPEATABLE READ snapshot taken
    before the winner commits (PostgreSQL; SQLite serializes the writers instead)."""
    if backend != "postgres":
        pytest.skip("needs concurrent writers with snapshots (runs on the postgres backend)")
    ctx = plex_app.ctx
    account = PlexAccount(id=4242, username="carol", email="carol@example.test")
    async with ctx.session_factory() as loser:
        await loser.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        await loser.execute(select(User.id).limit(1))  # the loser's snapshot starts here
        async with session_scope(ctx.session_factory) as winner:
            await plex_service.upsert_plex_user(winner, ctx, account=account, token="winner")
        user = await plex_service.upsert_plex_user(loser, ctx, account=account, token="loser")
        await loser.commit()
        user_id = user.id
    async with session_scope(ctx.session_factory) as session:
        users = list(await session.scalars(select(User).where(User.plex_id == "4242")))
    assert [u.id for u in users] == [user_id]
    assert ctx.secret_box.decrypt(users[0].plex_token or "", context="plex_token") == "loser"


async def test_signing_in_again_updates_the_existing_user_and_keeps_its_role(
    plex_app: MediaNestApp, browser: httpx.AsyncClient, plextv: PlexTvSimulator
) -> None:
    for _ in range(2):
        pin = await start_pin(browser)
        plextv.approve_pin(pin["id"], "alice")
        assert (await poll_until_settled(browser, pin["id"])).status_code == 200
    async with session_scope(plex_app.ctx.session_factory) as session:
        users = list(await session.scalars(select(User).where(User.username == "alice")))
    assert len(users) == 1 and users[0].role == "user"


async def test_a_disabled_user_cannot_sign_in_with_plex(
    plex_app: MediaNestApp, browser: httpx.AsyncClient, plextv: PlexTvSimulator
) -> None:
    account = plextv.account_for_token(ALICE_TOKEN)
    assert account is not None
    await create_user(plex_app, "alice", plex_id=str(account.id), status="disabled")
    pin = await start_pin(browser)
    plextv.approve_pin(pin["id"], "alice")
    refused = await poll_until_settled(browser, pin["id"])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ACCOUNT_DISABLED"
    assert cookie(browser, SESSION_COOKIE) is None


async def test_another_browser_cannot_poll_or_complete_someone_elses_pin(
    plex_app: MediaNestApp, browser: httpx.AsyncClient, plextv: PlexTvSimulator
) -> None:
    pin = await start_pin(browser)
    plextv.approve_pin(pin["id"], "alice")
    async with make_client(plex_app) as attacker:
        polled = await attacker.get(f"/api/auth/plex/pin/{pin['id']}")
        completed = await attacker.post("/api/auth/plex", json={"pinId": pin["id"]})
    assert polled.status_code == 404 and completed.status_code == 404
    assert polled.json()["error"]["code"] == "PIN_NOT_FOUND"
    # The rightful browser still completes it.
    assert (await poll_until_settled(browser, pin["id"])).status_code == 200


async def test_polling_fast_asks_plex_tv_at_most_once_a_second(
    plex_app: MediaNestApp, browser: httpx.AsyncClient, plextv: PlexTvSimulator
) -> None:
    pin = await start_pin(browser)
    started = time.monotonic()
    for _ in range(20):
        response = await browser.get(f"/api/auth/plex/pin/{pin['id']}")
        assert response.json()["data"]["status"] == "pending"
    elapsed = time.monotonic() - started
    upstream = plextv.request_count(f"/api/v2/pins/{pin['id']}", "GET")
    assert upstream <= int(elapsed) + 1


async def test_a_pin_plex_tv_forgot_before_its_expiry_ends_the_wait_as_declined(
    plex_app: MediaNestApp, browser: httpx.AsyncClient, plextv: PlexTvSimulator
) -> None:
    pin = await start_pin(browser)
    plextv.expire_pin(pin["id"])
    response = await poll_until_settled(browser, pin["id"])
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "PIN_DECLINED"


async def test_a_pin_past_its_expiry_is_not_polled_at_plex_tv_again(
    plex_settings: Callable[..., Settings],
    app_factory: Callable[[Settings], Any],
    plextv: PlexTvSimulator,
) -> None:
    plextv.pin_expires_in = 1
    app = await app_factory(plex_settings())
    async with make_client(app) as browser:
        pin = await start_pin(browser)
        time.sleep(1.2)
        plextv.log.clear()
        response = await browser.get(f"/api/auth/plex/pin/{pin['id']}")
    assert response.status_code == 410
    assert plextv.request_count() == 0


async def test_deny_at_plex_tv_ends_the_wait_with_a_message(
    plex_app: MediaNestApp, browser: httpx.AsyncClient, plextv: PlexTvSimulator
) -> None:
    pin = await start_pin(browser)
    pending = await browser.get(f"/api/auth/plex/pin/{pin['id']}")
    assert pending.json()["data"]["status"] == "pending"
    plextv.deny_pin(pin["id"])
    started = time.monotonic()
    declined = await poll_until_settled(browser, pin["id"])
    # Within a poll or two, not when the PIN's 15 minutes are up.
    assert time.monotonic() - started < 5
    assert declined.status_code == 410
    assert declined.json()["error"]["code"] == "PIN_DECLINED"
    assert "declined" in declined.json()["error"]["message"]
    assert cookie(browser, SESSION_COOKIE) is None
    assert await _user(plex_app, "plexowner") is None
    # The PIN is forgotten: polling again does not reach plex.tv.
    plextv.log.clear()
    again = await browser.get(f"/api/auth/plex/pin/{pin['id']}")
    assert again.status_code == 404
    assert plextv.request_count() == 0


async def test_plex_tv_answering_429_keeps_the_pin_pending_and_backs_off(
    plex_app: MediaNestApp, browser: httpx.AsyncClient, plextv: PlexTvSimulator
) -> None:
    plextv.pin_poll_min_interval = 30.0  # every poll after the first is "too fast"
    pin = await start_pin(browser)
    first = await browser.get(f"/api/auth/plex/pin/{pin['id']}")
    assert first.json()["data"]["status"] == "pending"
    time.sleep(1.1)
    limited = await browser.get(f"/api/auth/plex/pin/{pin['id']}")
    assert limited.status_code == 200
    assert limited.json()["data"]["status"] == "pending"
    upstream = plextv.request_count(f"/api/v2/pins/{pin['id']}", "GET")
    # After the 429, MediaNest waits before asking plex.tv again.
    time.sleep(1.1)
    assert (await browser.get(f"/api/auth/plex/pin/{pin['id']}")).status_code == 200
    assert plextv.request_count(f"/api/v2/pins/{pin['id']}", "GET") == upstream


async def test_plex_tv_unreachable_answers_503_at_once(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    # The default test settings point plex.tv at a closed loopback port. The first
    # request warms the freshly started app up; the second one is measured.
    assert (await client.post("/api/auth/plex/pin", json={})).status_code == 503
    started = time.monotonic()
    response = await client.post("/api/auth/plex/pin", json={})
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert elapsed < 1.0, elapsed


async def test_plex_tv_hanging_answers_503_within_the_timeout(
    plex_settings: Callable[..., Settings],
    app_factory: Callable[[Settings], Any],
    plextv: PlexTvSimulator,
) -> None:
    app = await app_factory(plex_settings(http_timeout_seconds=1.0))
    async with make_client(app) as browser:
        pin = await start_pin(browser)
        plextv.set_fault("hang", path_prefix="/api/v2/pins")
        started = time.monotonic()
        response = await browser.get(f"/api/auth/plex/pin/{pin['id']}")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert 0.9 < elapsed < 2.5, elapsed


async def test_plex_sign_in_on_an_install_without_plex_says_an_admin_must_set_it_up(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    # The default test settings: no Plex server saved, plex.tv on a closed port.
    response = await client.post("/api/auth/plex/pin", json={})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["message"] == "Plex is not set up yet — ask an admin to configure it."
    assert error["details"] == {"service": "plex", "reason": "not configured"}
    assert "plextv" not in response.text


async def test_plex_tv_down_with_plex_configured_names_plex_tv_in_plain_words(
    make_settings: Callable[..., Settings], app_factory: Callable[[Settings], Any]
) -> None:
    app = await app_factory(
        make_settings(plex_url="http://127.0.0.1:9", plex_token="owner-token-for-the-test")
    )
    async with make_client(app) as browser:
        response = await browser.post("/api/auth/plex/pin", json={})
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert message.startswith("plex.tv cannot be reached right now.")
    assert "unavailable (" not in message


async def test_plex_sign_ins_started_from_one_address_are_limited_and_plex_tv_is_not_asked(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plextv: PlexTvSimulator,
) -> None:
    """Each PIN is a call to plex.tv: one address starting sign-ins in a loop gets 429
    past `MEDIANEST_RATE_LIMIT_PLEX_PINS` (per 10 minutes), and plex.tv hears nothing more."""
    app = await app_factory(plex_settings(rate_limit_plex_pins=3))
    async with make_client(app) as client:
        for _ in range(3):
            await start_pin(client)
        pins_at_plex_tv = len(plextv.pins)
        refused = await client.post("/api/auth/plex/pin", json={})
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert body["success"] is False
    assert body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert body["error"]["details"]["limit"] == 3
    assert int(refused.headers["Retry-After"]) > 0
    assert len(plextv.pins) == pins_at_plex_tv
