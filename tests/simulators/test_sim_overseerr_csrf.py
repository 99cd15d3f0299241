"""Overseerr simulator: the main settings (admin only) and "Enable CSRF Protection" as
csurf runs it in server/index.ts: every POST/PUT/PATCH/DELETE without a valid `_csrf`
cookie and token is a 403 `{"message": "invalid csrf token"}`, whatever the API key."""

from __future__ import annotations

import httpx
import pytest

from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import API_KEY
from medianest_simulators.overseerr_settings import csrf_token

KEY = {"X-Api-Key": API_KEY}
REFUSED = {"message": "invalid csrf token"}
WRITES = [
    ("POST", "/api/v1/request", {"mediaType": "movie", "mediaId": 400007}),
    ("DELETE", "/api/v1/request/1", None),
    ("POST", "/api/v1/request/1/approve", None),
    ("DELETE", "/api/v1/media/1", None),
    ("POST", "/api/v1/settings/notifications/webhook/test", {"options": {}}),
    ("POST", "/api/v1/settings/main", {"csrfProtection": False}),  # no route here: csurf first
    ("PUT", "/api/v1/user/2", {}),
]


def test_the_main_settings_are_overseerrs_defaults_and_only_for_the_admin(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    main = http.get(overseerr.url + "/api/v1/settings/main", headers=KEY)
    assert main.status_code == 200
    assert main.json()["csrfProtection"] is False
    assert main.json()["apiKey"] == API_KEY  # an admin sees every main setting
    for headers in ({"X-Api-Key": "wrong"}, KEY | {"X-API-User": "2"}, {}):
        refused = http.get(overseerr.url + "/api/v1/settings/main", headers=headers)
        assert refused.status_code == 403
        assert refused.json() == {
            "status": 403,
            "error": "You do not have permission to access this endpoint",
        }


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_with_csrf_protection_every_write_is_refused_whatever_the_key(
    overseerr: OverseerrSimulator, http: httpx.Client, method: str, path: str, body: object
) -> None:
    before = dict(overseerr.media_requests)
    switched = http.post(overseerr.url + "/__sim/csrf-protection", json={"enabled": True})
    assert switched.json() == {"enabled": True}
    for headers in (KEY, {"X-Api-Key": "wrong"}, KEY | {"X-API-User": "2"}, {}):
        answer = http.request(method, overseerr.url + path, json=body, headers=headers)
        assert (answer.status_code, answer.json()) == (403, REFUSED)
        # csurf hands out a secret (httpOnly) with its refusal.
        assert answer.headers["set-cookie"].startswith("_csrf=")
        assert "HttpOnly" in answer.headers["set-cookie"]
    assert overseerr.media_requests == before
    assert http.get(overseerr.url + "/api/v1/settings/main", headers=KEY).json()["csrfProtection"]


def test_with_csrf_protection_reads_work_and_a_valid_token_passes(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    overseerr.set_csrf_protection(True)
    status = http.get(overseerr.url + "/api/v1/status")
    assert status.status_code == 200
    cookies = {c.split("=", 1)[0]: c for c in status.headers.get_list("set-cookie")}
    assert set(cookies) == {"_csrf", "XSRF-TOKEN"}
    secret = cookies["_csrf"].split(";", 1)[0].split("=", 1)[1]
    assert http.get(overseerr.url + "/api/v1/request", headers=KEY).status_code == 200
    body = {"mediaType": "movie", "mediaId": 400007}
    # The web app's way: the secret cookie and a token made from it in a header.
    for header in ("X-XSRF-TOKEN", "CSRF-Token"):
        wrong = http.post(
            overseerr.url + "/api/v1/request",
            json=body,
            headers=KEY | {header: csrf_token("another-secret"), "Cookie": f"_csrf={secret}"},
        )
        assert (wrong.status_code, wrong.json()) == (403, REFUSED)
    made = http.post(
        overseerr.url + "/api/v1/request",
        json=body,
        headers=KEY | {"X-XSRF-TOKEN": csrf_token(secret), "Cookie": f"_csrf={secret}"},
    )
    assert made.status_code == 201, made.text


def test_csrf_protection_is_off_by_default_and_after_a_reset(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    body = {"mediaType": "movie", "mediaId": 400007}
    overseerr.set_csrf_protection(True)
    assert http.post(overseerr.url + "/api/v1/request", json=body, headers=KEY).status_code == 403
    overseerr.reset()
    made = http.post(overseerr.url + "/api/v1/request", json=body, headers=KEY)
    assert made.status_code == 201
    assert "set-cookie" not in made.headers
    assert http.get(overseerr.url + "/__sim/csrf-protection").json() == {"enabled": False}
