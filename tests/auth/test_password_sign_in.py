"""Password sign-in: the bootstrap admin's forced change, the password policy, session
rotation, cookie flags, the failed-login limit and the audit trail."""

from __future__ import annotations

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from medianest.auth.models import User
from medianest.core import passwords
from tests.auth.flows import audit_actions, password_sign_in, set_cookie_header
from tests.factories.users import TEST_PASSWORD, create_user, make_client

NEW_PASSWORD = "a-much-better-passphrase"


async def test_bootstrap_admin_must_change_password_before_using_anything_else(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    signed_in = await password_sign_in(client, "admin", "admin")
    assert signed_in.status_code == 200
    assert signed_in.json()["data"]["passwordChangeRequired"] is True

    session = await client.get("/api/auth/session")
    assert session.status_code == 200
    blocked = await client.get("/api/admin/users")
    assert blocked.status_code == 403
    assert blocked.json()["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"
    blocked_post = await client.post("/api/auth/tokens", json={"name": "script"})
    assert blocked_post.json()["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"

    changed = await client.post(
        "/api/auth/change-password",
        json={"currentPassword": "admin", "newPassword": NEW_PASSWORD},
    )
    assert changed.status_code == 200
    assert changed.json()["data"]["passwordChangeRequired"] is False
    assert (await client.get("/api/admin/users")).status_code == 200


@pytest.mark.parametrize(
    ("new_password", "problem"),
    [
        ("short-pass", "Use at least 12 characters (this one has 10)."),
        ("admin", "Do not use your username as the password."),
        ("ADMIN", "Do not use your username as the password."),
    ],
)
async def test_weak_new_passwords_are_refused(
    app: MediaNestApp, client: httpx.AsyncClient, new_password: str, problem: str
) -> None:
    await password_sign_in(client, "admin", "admin")
    response = await client.post(
        "/api/auth/change-password", json={"currentPassword": "admin", "newPassword": new_password}
    )
    assert response.status_code == 400
    messages = [f["message"] for f in response.json()["error"]["details"]["fields"]]
    assert any(problem in m for m in messages)


async def test_the_username_is_refused_as_a_password(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    await create_user(app, "householdmember", password=TEST_PASSWORD)
    await password_sign_in(client, "householdmember", TEST_PASSWORD)
    response = await client.post(
        "/api/auth/change-password",
        json={"currentPassword": TEST_PASSWORD, "newPassword": "HouseholdMember"},
    )
    assert response.status_code == 400
    assert "Do not use your username as the password." in response.text


async def test_a_nul_character_in_a_username_is_refused_with_422_on_every_backend(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    # PostgreSQL cannot compare text holding NUL: the lookup itself answered 500 there.
    response = await client.post(
        "/api/auth/admin", json={"username": "ad\u0000min", "password": "whatever-it-is"}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"]["fields"][0]["field"] == "username"
    assert "NUL" in error["details"]["fields"][0]["message"]


async def test_sign_in_replaces_a_session_id_the_browser_already_had(
    app: MediaNestApp, admin: User, client: httpx.AsyncClient
) -> None:
    await password_sign_in(client, "admin", TEST_PASSWORD)
    first = client.cookies[SESSION_COOKIE]
    await password_sign_in(client, "admin", TEST_PASSWORD)
    second = client.cookies[SESSION_COOKIE]
    assert first != second
    async with make_client(app) as replay:
        replay.cookies.set(SESSION_COOKIE, first)
        assert (await replay.get("/api/auth/session")).status_code == 401


async def test_changing_the_password_rotates_this_session_and_ends_all_others(
    app: MediaNestApp, admin: User
) -> None:
    async with make_client(app) as laptop, make_client(app) as phone:
        await password_sign_in(laptop, "admin", TEST_PASSWORD)
        await password_sign_in(phone, "admin", TEST_PASSWORD)
        before = laptop.cookies[SESSION_COOKIE]
        changed = await laptop.post(
            "/api/auth/change-password",
            json={"currentPassword": TEST_PASSWORD, "newPassword": NEW_PASSWORD},
        )
        assert changed.status_code == 200
        assert laptop.cookies[SESSION_COOKIE] != before
        assert (await laptop.get("/api/auth/session")).status_code == 200
        assert (await phone.get("/api/auth/session")).status_code == 401
        async with make_client(app) as replay:
            replay.cookies.set(SESSION_COOKIE, before)
            assert (await replay.get("/api/auth/session")).status_code == 401


async def test_session_cookie_is_httponly_lax_and_secure_only_over_https(
    app: MediaNestApp, admin: User, client: httpx.AsyncClient
) -> None:
    plain = await password_sign_in(client, "admin", TEST_PASSWORD)
    line = set_cookie_header(plain, SESSION_COOKIE) or ""
    assert "HttpOnly" in line and "SameSite=lax" in line and "Secure" not in line
    csrf_line = set_cookie_header(plain, CSRF_COOKIE) or ""
    assert "HttpOnly" not in csrf_line

    # Behind a trusted proxy (loopback) that terminated TLS.
    proxied = await client.post(
        "/api/auth/admin",
        json={"username": "admin", "password": TEST_PASSWORD},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "Secure" in (set_cookie_header(proxied, SESSION_COOKIE) or "")


async def test_logout_ends_the_session_and_is_audited(
    app: MediaNestApp, admin: User, client: httpx.AsyncClient
) -> None:
    await password_sign_in(client, "admin", TEST_PASSWORD)
    token = client.cookies[SESSION_COOKIE]
    assert (await client.post("/api/auth/logout")).status_code == 200
    async with make_client(app) as replay:
        replay.cookies.set(SESSION_COOKIE, token)
        assert (await replay.get("/api/auth/session")).status_code == 401
    actions = [action for action, _ in await audit_actions(app)]
    assert "auth.login" in actions and "auth.logout" in actions


async def test_ten_failed_sign_ins_per_username_and_address_then_429(
    app: MediaNestApp, admin: User, client: httpx.AsyncClient
) -> None:
    for _ in range(10):
        failed = await password_sign_in(client, "admin", "wrong-password-123")
        assert failed.status_code == 401
    blocked = await password_sign_in(client, "admin", TEST_PASSWORD)
    assert blocked.status_code == 429
    body = blocked.json()["error"]
    assert body["code"] == "RATE_LIMIT_EXCEEDED"
    assert body["details"]["limit"] == 10 and body["details"]["window"] == 900
    assert int(blocked.headers["Retry-After"]) > 0
    # Another username from the same address is not locked out by these failures.
    other = await password_sign_in(client, "someone-else", "wrong-password-123")
    assert other.status_code == 401
    failures = [a for a, _ in await audit_actions(app) if a == "auth.login_failed"]
    assert len(failures) == 11


async def test_guessing_the_current_password_in_a_change_is_limited_as_sign_ins_are(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    # Whoever holds a session (a borrowed browser, a stolen cookie) must not learn the
    # password at the API's 100 guesses a minute: a change's current password counts
    # against the same 10 per username and address as signing in (which counted once).
    await create_user(app, "householdmember", password=TEST_PASSWORD)
    assert (await password_sign_in(client, "householdmember", TEST_PASSWORD)).status_code == 200
    for attempt in range(9):
        guessed = await client.post(
            "/api/auth/change-password",
            json={"currentPassword": f"guess-number-{attempt}", "newPassword": NEW_PASSWORD},
        )
        assert guessed.status_code == 400, guessed.text
    blocked = await client.post(
        "/api/auth/change-password",
        json={"currentPassword": TEST_PASSWORD, "newPassword": NEW_PASSWORD},
    )
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    # Signing in from this address is held back as well: it is one budget.
    assert (await password_sign_in(client, "householdmember", TEST_PASSWORD)).status_code == 429


async def test_the_forced_change_does_not_ask_again_for_the_password_just_typed(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    await password_sign_in(client, "admin", "admin")
    changed = await client.post("/api/auth/change-password", json={"newPassword": NEW_PASSWORD})
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["passwordChangeRequired"] is False
    assert (await client.get("/api/admin/users")).status_code == 200


async def test_a_voluntary_change_still_needs_the_current_password(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    await create_user(app, "householdmember", password=TEST_PASSWORD)
    await password_sign_in(client, "householdmember", TEST_PASSWORD)
    response = await client.post("/api/auth/change-password", json={"newPassword": NEW_PASSWORD})
    assert response.status_code == 400
    fields = response.json()["error"]["details"]["fields"]
    assert fields == [{"field": "currentPassword", "message": "Required."}]


async def test_a_user_without_a_password_is_told_the_current_one_is_wrong_without_a_check(
    alice_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []
    hasher = passwords._hasher
    original = hasher.verify_and_update

    def counted(password: str, hash: str) -> tuple[bool, str | None]:
        checks.append(password)
        return original(password, hash)

    monkeypatch.setattr(hasher, "verify_and_update", counted)
    response = await alice_client.post(
        "/api/auth/change-password",
        json={"currentPassword": "a-guessed-passphrase", "newPassword": NEW_PASSWORD},
    )
    assert response.status_code == 400
    fields = response.json()["error"]["details"]["fields"]
    assert fields == [{"field": "currentPassword", "message": "Is wrong."}]
    assert checks == []  # a dummy Argon2 check costs ~0.2 s of CPU at production cost


async def test_the_rules_for_admin_read_as_separate_sentences_without_repeats(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    await password_sign_in(client, "admin", "admin")
    response = await client.post("/api/auth/change-password", json={"newPassword": "admin"})
    assert response.status_code == 400
    messages = [f["message"] for f in response.json()["error"]["details"]["fields"]]
    assert messages == [
        "Use at least 12 characters (this one has 5).",
        "Do not use your username as the password.",
    ]


async def test_admin_is_refused_as_a_password_for_other_users_too(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    await create_user(app, "householdmember", password=TEST_PASSWORD)
    await password_sign_in(client, "householdmember", TEST_PASSWORD)
    response = await client.post(
        "/api/auth/change-password",
        json={"currentPassword": TEST_PASSWORD, "newPassword": "admin"},
    )
    messages = [f["message"] for f in response.json()["error"]["details"]["fields"]]
    assert "Do not use 'admin' as the password." in messages
