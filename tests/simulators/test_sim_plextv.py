"""plex.tv simulator: PIN sign-in, user lookup, resources and the approval pages."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from medianest_simulators import PlexTvSimulator
from medianest_simulators.plextv_models import (
    ALICE_SERVER_TOKEN,
    ALICE_TOKEN,
    EVE_TOKEN,
    MACHINE_IDENTIFIER,
    OWNER_TOKEN,
)

CLIENT = {
    "X-Plex-Client-Identifier": "medianest-test-client",
    "X-Plex-Product": "MediaNest",
    "Accept": "application/json",
}
PIN_FIELDS = {
    "id",
    "code",
    "product",
    "trusted",
    "qr",
    "clientIdentifier",
    "location",
    "expiresIn",
    "createdAt",
    "expiresAt",
    "authToken",
    "newRegistration",
}
CHROMIUM = "/usr/bin/chromium"
NOT_FOUND = {"errors": [{"code": 1020, "message": "Code not found or expired"}]}


def create_pin(sim: PlexTvSimulator, http: httpx.Client, strong: bool = False) -> dict:
    answer = http.post(
        sim.url + "/api/v2/pins", params={"strong": "true"} if strong else {}, headers=CLIENT
    )
    assert answer.status_code == 201
    return answer.json()


def poll(sim: PlexTvSimulator, http: httpx.Client, pin_id: int, client: str | None = None):
    """Poll as a polite client: never faster than plex.tv allows (else 429, code 1003)."""
    time.sleep(sim.pin_poll_min_interval)
    headers = CLIENT | ({"X-Plex-Client-Identifier": client} if client else {})
    return http.get(f"{sim.url}/api/v2/pins/{pin_id}", headers=headers)


def test_a_pin_has_the_contract_fields_and_a_four_character_code(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    pin = create_pin(plextv, http)
    assert set(pin) == PIN_FIELDS
    assert len(pin["code"]) == 4
    assert pin["authToken"] is None and pin["newRegistration"] is None
    assert pin["expiresIn"] == 900
    assert pin["clientIdentifier"] == "medianest-test-client"
    assert pin["product"] == "MediaNest"


def test_a_strong_pin_has_a_long_code(plextv: PlexTvSimulator, http: httpx.Client) -> None:
    assert len(create_pin(plextv, http, strong=True)["code"]) > 20


def test_a_pin_needs_a_client_identifier(plextv: PlexTvSimulator, http: httpx.Client) -> None:
    assert http.post(plextv.url + "/api/v2/pins").status_code == 400


def test_an_approved_pin_carries_the_users_token(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    pin = create_pin(plextv, http, strong=True)
    assert poll(plextv, http, pin["id"]).json()["authToken"] is None
    plextv.approve_pin(pin["code"], "alice")
    assert poll(plextv, http, pin["id"]).json()["authToken"] == ALICE_TOKEN


def test_a_pin_polled_by_another_client_is_not_found(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    pin = create_pin(plextv, http)
    answer = poll(plextv, http, pin["id"], client="someone-else")
    assert answer.status_code == 404
    assert answer.json() == NOT_FOUND


def test_an_unknown_or_expired_pin_is_not_found(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    assert poll(plextv, http, 424242).json() == NOT_FOUND
    pin = create_pin(plextv, http)
    plextv.expire_pin(pin["id"])
    assert poll(plextv, http, pin["id"]).status_code == 404


def test_a_pin_expires_after_the_configured_lifetime(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    plextv.pin_expires_in = 1
    pin = create_pin(plextv, http)
    assert pin["expiresIn"] == 1
    assert poll(plextv, http, pin["id"]).status_code == 200
    time.sleep(1.1)
    assert poll(plextv, http, pin["id"]).status_code == 404


def test_a_denied_pin_is_gone_before_its_expiry(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    pin = create_pin(plextv, http)
    assert poll(plextv, http, pin["id"]).status_code == 200
    http.post(f"{plextv.url}/__sim/pins/{pin['code']}/deny")
    denied = poll(plextv, http, pin["id"])
    assert denied.status_code == 404
    assert denied.json() == NOT_FOUND


def test_polling_a_pin_too_fast_answers_429_with_code_1003(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    pin = create_pin(plextv, http)
    url = f"{plextv.url}/api/v2/pins/{pin['id']}"
    assert http.get(url, headers=CLIENT).status_code == 200
    fast = http.get(url, headers=CLIENT)
    assert fast.status_code == 429
    assert fast.json()["errors"][0]["code"] == 1003
    assert fast.headers["retry-after"] == "1"
    time.sleep(plextv.pin_poll_min_interval + 0.05)
    assert http.get(url, headers=CLIENT).status_code == 200


def test_pins_are_approved_and_expired_over_http(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    pin = create_pin(plextv, http)
    approved = http.post(f"{plextv.url}/__sim/pins/{pin['id']}/approve", json={"username": "bob"})
    assert approved.status_code == 200
    assert poll(plextv, http, pin["id"]).json()["authToken"]
    http.post(f"{plextv.url}/__sim/pins/{pin['id']}/expire")
    assert poll(plextv, http, pin["id"]).status_code == 404
    missing = http.post(f"{plextv.url}/__sim/pins/999999/approve", json={"username": "bob"})
    assert missing.status_code == 404


def test_the_user_endpoint_validates_tokens(plextv: PlexTvSimulator, http: httpx.Client) -> None:
    user = http.get(plextv.url + "/api/v2/user", headers=CLIENT | {"X-Plex-Token": ALICE_TOKEN})
    assert user.status_code == 200
    body = user.json()
    assert body["username"] == "alice"
    assert isinstance(body["id"], int)
    assert {"uuid", "email", "thumb", "authToken", "subscription"} <= set(body)
    bad = http.get(plextv.url + "/api/v2/user", headers=CLIENT | {"X-Plex-Token": "nope"})
    assert bad.status_code == 401


def test_a_revoked_token_is_rejected(plextv: PlexTvSimulator, http: httpx.Client) -> None:
    http.post(f"{plextv.url}/__sim/tokens/{ALICE_TOKEN}/revoke")
    answer = http.get(plextv.url + "/api/v2/user", headers=CLIENT | {"X-Plex-Token": ALICE_TOKEN})
    assert answer.status_code == 401


def test_resources_list_the_shared_server_with_a_per_user_access_token(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    def servers(token: str) -> list[dict]:
        answer = http.get(
            plextv.url + "/api/v2/resources",
            params={"includeHttps": 1},
            headers=CLIENT | {"X-Plex-Token": token},
        )
        return [r for r in answer.json() if "server" in r["provides"]]

    owner = {r["clientIdentifier"]: r for r in servers(OWNER_TOKEN)}
    assert owner[MACHINE_IDENTIFIER]["owned"] is True
    assert owner[MACHINE_IDENTIFIER]["accessToken"] == OWNER_TOKEN
    alice = {r["clientIdentifier"]: r for r in servers(ALICE_TOKEN)}
    assert alice[MACHINE_IDENTIFIER]["owned"] is False
    assert alice[MACHINE_IDENTIFIER]["accessToken"] == ALICE_SERVER_TOKEN
    assert alice[MACHINE_IDENTIFIER]["connections"][0]["uri"].startswith("http://")
    assert MACHINE_IDENTIFIER not in {r["clientIdentifier"] for r in servers(EVE_TOKEN)}


def test_new_users_can_be_added_and_given_access(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    token = plextv.add_user("carol")
    plextv.share_server("carol", MACHINE_IDENTIFIER, "carol-server-token")
    answer = http.get(plextv.url + "/api/v2/resources", headers=CLIENT | {"X-Plex-Token": token})
    assert "carol-server-token" in {r["accessToken"] for r in answer.json()}


def test_the_auth_and_link_pages_offer_an_approve_button(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    for path in ("/auth/", "/link"):
        page = http.get(plextv.url + path)
        assert page.status_code == 200
        assert 'id="approve"' in page.text
        assert "/__sim/pins/" in page.text
    assert http.get(plextv.url + "/__sim/users").json()[0]["username"] == "plexowner"


@pytest.mark.e2e
def test_a_browser_approves_a_pin_on_the_auth_page_and_is_forwarded(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    pin = create_pin(plextv, http, strong=True)
    fragment = urlencode(
        {
            "clientID": CLIENT["X-Plex-Client-Identifier"],
            "code": pin["code"],
            "context[device][product]": "MediaNest",
            "forwardUrl": plextv.url + "/link",
        }
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page()
            page.goto(f"{plextv.url}/auth/#!?{fragment}")
            page.wait_for_selector("#username option[value=alice]", state="attached")
            page.select_option("#username", "alice")
            page.click("#approve")
            page.wait_for_url(plextv.url + "/link")
        finally:
            browser.close()
    assert poll(plextv, http, pin["id"]).json()["authToken"] == ALICE_TOKEN
