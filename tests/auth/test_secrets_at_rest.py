"""A dump of every row of every table holds no Plex token, password or bearer secret in
plaintext (run on both backends: SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection

from medianest.app import MediaNestApp
from medianest.auth.cookies import REMEMBER_COOKIE, SESSION_COOKIE
from medianest.settings import Settings
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plextv_models import ALICE_TOKEN, OWNER_TOKEN
from tests.auth.flows import cookie, password_sign_in, poll_until_settled, start_pin
from tests.factories.users import make_client

NEW_ADMIN_PASSWORD = "rotated-admin-passphrase"


async def dump_database(app: MediaNestApp) -> str:
    """Every row of every table, as the database driver returns it, joined as text."""

    def table_names(connection: Any) -> list[str]:
        return list(inspect(connection).get_table_names())

    lines: list[str] = []
    async with app.ctx.engine.connect() as connection:
        assert isinstance(connection, AsyncConnection)
        for table in await connection.run_sync(table_names):
            result = await connection.exec_driver_sql(f'SELECT * FROM "{table}"')
            for row in result:
                lines.append(f"{table}: " + " | ".join(str(value) for value in row))
    return "\n".join(lines)


async def test_no_plex_token_password_or_bearer_secret_is_stored_in_plaintext(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plex_server: PlexSimulator,
    plextv: PlexTvSimulator,
) -> None:
    app: MediaNestApp = await app_factory(
        plex_settings(plex_url=plex_server.url, plex_token=OWNER_TOKEN)
    )
    secrets: list[str] = [ALICE_TOKEN, OWNER_TOKEN, NEW_ADMIN_PASSWORD]
    async with make_client(app) as admin_browser:
        await password_sign_in(admin_browser, "admin", "admin", remember_me=True)
        changed = await admin_browser.post(
            "/api/auth/change-password",
            json={"currentPassword": "admin", "newPassword": NEW_ADMIN_PASSWORD},
        )
        assert changed.status_code == 200
        await password_sign_in(admin_browser, "admin", NEW_ADMIN_PASSWORD, remember_me=True)
        secrets += [
            cookie(admin_browser, SESSION_COOKIE) or "",
            cookie(admin_browser, REMEMBER_COOKIE) or "",
        ]
        created = await admin_browser.post("/api/auth/tokens", json={"name": "backup"})
        secrets.append(created.json()["data"]["token"])
    async with make_client(app) as alice_browser:
        pin = await start_pin(alice_browser, remember_me=True)
        plextv.approve_pin(pin["id"], "alice")
        signed_in: httpx.Response = await poll_until_settled(alice_browser, pin["id"])
        assert signed_in.status_code == 200
        secrets += [
            cookie(alice_browser, SESSION_COOKIE) or "",
            cookie(alice_browser, REMEMBER_COOKIE) or "",
        ]

    dump = await dump_database(app)
    assert "users:" in dump and "service_config:" in dump and "session_tokens:" in dump
    assert all(secrets), "every secret was captured"
    leaked = [secret[:6] + "..." for secret in secrets if secret in dump]
    assert leaked == []
    # The encrypted values are there, in the versioned AES-GCM format.
    assert f"v1:{app.ctx.secret_box.current_key_id}:" in dump
