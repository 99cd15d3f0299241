"""The account page lists the user's API tokens and revokes them (the same action as the
API), since a password change revokes them all and the user should see what exists."""

from __future__ import annotations

import httpx

from medianest.app import MediaNestApp
from medianest.auth.models import User

HX = {"HX-Request": "true"}


async def _token(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    made = await client.post("/api/auth/tokens", json={"name": name})
    assert made.status_code == 201
    data: dict[str, str] = made.json()["data"]
    return data


async def test_the_account_page_lists_only_the_users_own_tokens(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient
) -> None:
    await _token(alice_client, "backup-script")
    await _token(bob_client, "bobs-secret-script")
    page = await alice_client.get("/change-password")
    assert page.status_code == 200
    assert "backup-script" in page.text
    assert "bobs-secret-script" not in page.text
    assert "Changing your password revokes all of them" in page.text


async def test_revoking_from_the_page_ends_the_token_and_is_refused_for_others(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    client: httpx.AsyncClient,
) -> None:
    token = await _token(alice_client, "tv")
    bearer = {"Authorization": f"Bearer {token['token']}"}
    assert (await client.get("/api/auth/tokens", headers=bearer)).status_code == 200

    anonymous = await client.delete(f"/account/tokens/{token['id']}", headers=HX)
    assert anonymous.status_code == 204  # the pages' answer to htmx: go and sign in
    assert anonymous.headers["HX-Redirect"].startswith("/login")
    stranger = await bob_client.delete(f"/account/tokens/{token['id']}", headers=HX)
    assert stranger.status_code == 404
    assert (await client.get("/api/auth/tokens", headers=bearer)).status_code == 200

    revoked = await alice_client.delete(f"/account/tokens/{token['id']}", headers=HX)
    assert revoked.status_code == 200
    assert "Token revoked." in revoked.headers["HX-Trigger"]
    assert (await client.get("/api/auth/tokens", headers=bearer)).status_code == 401
    page = await alice_client.get("/change-password")
    assert "You have no API tokens." in page.text
