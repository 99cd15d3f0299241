"""Small helpers that drive the auth endpoints the way a browser or script does."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.cookies import CSRF_COOKIE
from medianest.db.engine import session_scope
from medianest.platform.models import AuditLog


async def password_sign_in(
    client: httpx.AsyncClient, username: str, password: str, *, remember_me: bool = False
) -> httpx.Response:
    response = await client.post(
        "/api/auth/admin",
        json={"username": username, "password": password, "rememberMe": remember_me},
    )
    if response.status_code == 200:
        client.headers["X-CSRF-Token"] = client.cookies[CSRF_COOKIE]
    return response


def set_cookie_header(response: httpx.Response, name: str) -> str | None:
    """The raw Set-Cookie line for `name`, to check its flags."""
    for line in response.headers.get_list("set-cookie"):
        if line.split("=", 1)[0].strip() == name:
            return line
    return None


async def audit_actions(app: MediaNestApp) -> list[tuple[str, Any]]:
    async with session_scope(app.ctx.session_factory) as session:
        rows = await session.scalars(select(AuditLog).order_by(AuditLog.created_at))
        return [(row.action, row.details) for row in rows]


def cookie(client: httpx.AsyncClient, name: str) -> str | None:
    """A cookie's value, preferring the one the server set over one the test planted."""
    found = [c for c in client.cookies.jar if c.name == name]
    found.sort(key=lambda c: c.domain != "")
    return found[-1].value if found else None


async def start_pin(client: httpx.AsyncClient, *, remember_me: bool = False) -> dict[str, Any]:
    response = await client.post("/api/auth/plex/pin", json={"rememberMe": remember_me})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def poll_until_settled(
    client: httpx.AsyncClient, pin_id: int, *, timeout: float = 10.0
) -> httpx.Response:
    """Poll like the page does (a few times a second) until the PIN is no longer pending."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/api/auth/plex/pin/{pin_id}")
        pending = response.status_code == 200 and response.json()["data"]["status"] == "pending"
        if not pending or time.monotonic() > deadline:
            if response.status_code == 200 and "csrftoken" in client.cookies:
                client.headers["X-CSRF-Token"] = cookie(client, "csrftoken") or ""
            return response
        await asyncio.sleep(0.25)
