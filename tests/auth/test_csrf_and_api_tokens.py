"""CSRF double submit for cookie sessions, and personal API tokens for scripts."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import ApiToken, User
from medianest.core.tokens import hash_token
from medianest.db.engine import session_scope
from tests.factories.users import make_client


async def test_cookie_session_without_csrf_header_is_refused(
    alice_client: httpx.AsyncClient,
) -> None:
    del alice_client.headers["X-CSRF-Token"]
    response = await alice_client.post("/api/auth/tokens", json={"name": "script"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "CSRF_FAILED"


async def test_cookie_session_with_a_wrong_csrf_header_is_refused(
    alice_client: httpx.AsyncClient,
) -> None:
    alice_client.headers["X-CSRF-Token"] = "not-the-cookie-value"
    response = await alice_client.post("/api/auth/logout")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "CSRF_FAILED"


async def test_safe_methods_need_no_csrf_header(alice_client: httpx.AsyncClient) -> None:
    del alice_client.headers["X-CSRF-Token"]
    assert (await alice_client.get("/api/auth/session")).status_code == 200


async def test_an_api_token_is_shown_once_stored_hashed_and_works_without_csrf(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    created = await alice_client.post(
        "/api/auth/tokens", json={"name": "backup script", "expiresInDays": 30}
    )
    assert created.status_code == 201
    data = created.json()["data"]
    token = data["token"]
    assert token.startswith("mn_") and data["prefix"] == token[:9]
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.id == uuid.UUID(data["id"])))
    assert row is not None and row.token_hash == hash_token(token)

    listed = await alice_client.get("/api/auth/tokens")
    assert [t["name"] for t in listed.json()["data"]] == ["backup script"]
    assert "token" not in listed.json()["data"][0]

    spare = (await alice_client.post("/api/auth/tokens", json={"name": "spare"})).json()["data"]
    async with make_client(app) as script:
        script.headers["Authorization"] = f"Bearer {token}"
        assert (await script.get("/api/auth/session")).json()["data"]["user"]["username"] == (
            "alice"
        )
        # Unsafe method, no cookie, no CSRF header: accepted because it is a bearer call.
        assert (await script.delete(f"/api/auth/tokens/{spare['id']}")).status_code == 204


async def test_an_api_token_cannot_mint_tokens_but_may_list_and_revoke(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    made = await alice_client.post("/api/auth/tokens", json={"name": "leaky", "expiresInDays": 1})
    token = made.json()["data"]
    async with make_client(app) as script:
        script.headers["Authorization"] = f"Bearer {token['token']}"
        # Before: a leaked token could mint a never-expiring one and outlive its revocation.
        for body in ({"name": "forever"}, {"name": "a day", "expiresInDays": 1}):
            refused = await script.post("/api/auth/tokens", json=body)
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "PERMISSION_DENIED"
            assert refused.json()["error"]["details"]["reason"] == "session_required"
        # Listing and revoking only ever shrink what a token can reach: still allowed.
        listed = await script.get("/api/auth/tokens")
        assert [t["name"] for t in listed.json()["data"]] == ["leaky"]
        assert (await script.delete(f"/api/auth/tokens/{token['id']}")).status_code == 204
    assert (await alice_client.get("/api/auth/tokens")).json()["data"] == []


async def test_a_revoked_api_token_is_refused(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    created = (await alice_client.post("/api/auth/tokens", json={"name": "temp"})).json()["data"]
    deleted = await alice_client.delete(f"/api/auth/tokens/{created['id']}")
    assert deleted.status_code == 204
    async with make_client(app) as script:
        script.headers["Authorization"] = f"Bearer {created['token']}"
        refused = await script.get("/api/auth/session")
    assert refused.status_code == 401
    assert (await alice_client.get("/api/auth/tokens")).json()["data"] == []


async def test_another_users_api_token_cannot_be_revoked(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient
) -> None:
    created = (await alice_client.post("/api/auth/tokens", json={"name": "mine"})).json()["data"]
    response = await bob_client.delete(f"/api/auth/tokens/{created['id']}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert len((await alice_client.get("/api/auth/tokens")).json()["data"]) == 1


async def test_an_unknown_bearer_token_is_refused_not_treated_as_anonymous(
    client: httpx.AsyncClient,
) -> None:
    client.headers["Authorization"] = "Bearer mn_not-a-real-token"
    response = await client.get("/api/auth/session")
    assert response.status_code == 401
