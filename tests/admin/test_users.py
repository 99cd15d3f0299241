"""Admin user management: paging and search, role and status changes, deletion, the
last-admin rule, immediate lockout of disabled users, and the audit trail."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from medianest.app import MediaNestApp
from medianest.auth.models import AuthSession, SessionToken, User
from medianest.db.engine import session_scope
from medianest.platform.models import AuditLog
from tests.auth.flows import password_sign_in
from tests.factories.users import TEST_PASSWORD, create_user, make_client


async def test_users_are_listed_in_pages_and_searchable(
    app: MediaNestApp, admin: User, admin_client: httpx.AsyncClient
) -> None:
    for n in range(5):
        await create_user(app, f"member{n}")
    await create_user(app, "carol_smith")
    page = await admin_client.get("/api/admin/users", params={"page": 2, "pageSize": 3})
    body = page.json()
    assert page.status_code == 200
    assert body["meta"]["total"] == 7 and body["meta"]["page"] == 2 and len(body["data"]) == 3
    found = await admin_client.get("/api/admin/users", params={"search": "SMITH"})
    assert [u["username"] for u in found.json()["data"]] == ["carol_smith"]
    # LIKE wildcards in the search are taken literally.
    assert (await admin_client.get("/api/admin/users", params={"search": "%"})).json()["data"] == []
    assert "plexToken" not in found.text and "passwordHash" not in found.text


async def test_a_plain_user_cannot_manage_users(
    alice: User, alice_client: httpx.AsyncClient
) -> None:
    response = await alice_client.get("/api/admin/users")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"
    promote = await alice_client.put(f"/api/admin/users/{alice.id}", json={"role": "admin"})
    assert promote.status_code == 403


async def test_an_admin_grants_a_role_and_it_is_audited(
    app: MediaNestApp, admin: User, alice: User, admin_client: httpx.AsyncClient
) -> None:
    response = await admin_client.put(f"/api/admin/users/{alice.id}", json={"role": "admin"})
    assert response.status_code == 200
    assert response.json()["data"]["role"] == "admin"
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.scalar(
            select(AuditLog).where(AuditLog.action == "admin.user_role_changed")
        )
    assert row is not None and row.actor_id == admin.id and row.target == str(alice.id)
    assert row.details == {"from": "user", "to": "admin"}


async def test_unknown_fields_and_values_are_rejected(
    alice: User, admin_client: httpx.AsyncClient
) -> None:
    bad_role = await admin_client.put(f"/api/admin/users/{alice.id}", json={"role": "root"})
    extra = await admin_client.put(f"/api/admin/users/{alice.id}", json={"plexToken": "x"})
    assert bad_role.status_code in (400, 422) and extra.status_code in (400, 422)
    assert bad_role.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_the_last_admin_cannot_be_demoted_disabled_or_deleted(
    admin: User, admin_client: httpx.AsyncClient
) -> None:
    for response in (
        await admin_client.put(f"/api/admin/users/{admin.id}", json={"role": "user"}),
        await admin_client.put(f"/api/admin/users/{admin.id}", json={"status": "disabled"}),
        await admin_client.delete(f"/api/admin/users/{admin.id}"),
    ):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "LAST_ADMIN"


async def test_an_admin_can_be_demoted_when_another_admin_remains(
    app: MediaNestApp, admin: User, admin_client: httpx.AsyncClient
) -> None:
    second = await create_user(app, "second-admin", role="admin")
    demoted = await admin_client.put(f"/api/admin/users/{second.id}", json={"role": "user"})
    assert demoted.status_code == 200
    # Now the bootstrap admin is the last one again.
    again = await admin_client.put(f"/api/admin/users/{admin.id}", json={"role": "user"})
    assert again.status_code == 409


async def test_disabling_a_user_ends_their_sessions_and_remember_tokens_at_once(
    app: MediaNestApp, admin_client: httpx.AsyncClient
) -> None:
    carol = await create_user(app, "carol", password=TEST_PASSWORD)
    async with make_client(app) as carol_browser:
        signed_in = await password_sign_in(carol_browser, "carol", TEST_PASSWORD, remember_me=True)
        assert signed_in.status_code == 200
        created = await carol_browser.post("/api/auth/tokens", json={"name": "script"})
        api_token = created.json()["data"]["token"]

        disabled = await admin_client.put(
            f"/api/admin/users/{carol.id}", json={"status": "disabled"}
        )
        assert disabled.status_code == 200
        assert (await carol_browser.get("/api/auth/session")).status_code == 401
        # Signing in again is refused too.
        again = await password_sign_in(carol_browser, "carol", TEST_PASSWORD)
        assert again.status_code == 403
    async with make_client(app) as script:
        script.headers["Authorization"] = f"Bearer {api_token}"
        assert (await script.get("/api/auth/session")).status_code == 401
    async with session_scope(app.ctx.session_factory) as session:
        live_sessions = await session.scalar(
            select(func.count()).select_from(AuthSession).where(AuthSession.user_id == carol.id)
        )
        live_tokens = await session.scalar(
            select(func.count())
            .select_from(SessionToken)
            .where(SessionToken.user_id == carol.id, SessionToken.revoked_at.is_(None))
        )
        actions = list(await session.scalars(select(AuditLog.action)))
    assert live_sessions == 0 and live_tokens == 0
    assert "admin.user_status_changed" in actions


async def test_a_re_enabled_user_can_sign_in_again(
    app: MediaNestApp, admin_client: httpx.AsyncClient
) -> None:
    carol = await create_user(app, "carol", password=TEST_PASSWORD, status="disabled")
    enabled = await admin_client.put(f"/api/admin/users/{carol.id}", json={"status": "active"})
    assert enabled.status_code == 200
    async with make_client(app) as browser:
        assert (await password_sign_in(browser, "carol", TEST_PASSWORD)).status_code == 200


async def test_deleting_a_user_removes_them_and_their_sessions(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    deleted = await admin_client.delete(f"/api/admin/users/{alice.id}")
    assert deleted.status_code == 204
    assert (await alice_client.get("/api/auth/session")).status_code == 401
    missing = await admin_client.delete(f"/api/admin/users/{alice.id}")
    assert missing.status_code == 404
    listed = await admin_client.get("/api/admin/users")
    assert "alice" not in [u["username"] for u in listed.json()["data"]]


async def test_an_admin_links_a_user_to_their_overseerr_user_audited(
    app: MediaNestApp, admin: User, admin_client: httpx.AsyncClient
) -> None:
    carol = await create_user(app, "carol")
    url = f"/api/admin/users/{carol.id}"
    linked = await admin_client.put(url, json={"overseerrUserId": 7})
    assert linked.status_code == 200
    assert linked.json()["data"]["overseerrUserId"] == 7
    # Omitted: unchanged (a role change keeps the link); null: cleared.
    promoted = await admin_client.put(url, json={"role": "admin"})
    assert promoted.json()["data"]["overseerrUserId"] == 7
    cleared = await admin_client.put(url, json={"overseerrUserId": None})
    assert cleared.json()["data"]["overseerrUserId"] is None
    async with session_scope(app.ctx.session_factory) as session:
        changes = list(
            await session.scalars(
                select(AuditLog.details)
                .where(AuditLog.action == "admin.user_overseerr_user_id_changed")
                .order_by(AuditLog.created_at)
            )
        )
    # The first choice of an admin is marked theirs (never replaced automatically).
    admin_choice = {"from": None, "to": "admin"}
    assert changes == [{"from": None, "to": 7, "chosenBy": admin_choice}, {"from": 7, "to": None}]


async def test_a_bad_overseerr_user_id_is_refused_and_nothing_changes(
    app: MediaNestApp, admin: User, admin_client: httpx.AsyncClient
) -> None:
    carol = await create_user(app, "carol")
    url = f"/api/admin/users/{carol.id}"
    await admin_client.put(url, json={"overseerrUserId": 3})
    for bad in (0, -1, "seven", 1.5, 2**31):
        refused = await admin_client.put(url, json={"overseerrUserId": bad, "role": "admin"})
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
    listed = await admin_client.get("/api/admin/users", params={"search": "carol"})
    assert [(u["overseerrUserId"], u["role"]) for u in listed.json()["data"]] == [(3, "user")]
