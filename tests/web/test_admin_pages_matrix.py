"""Who may open the admin pages and their fragments, generated from the app's route table
so pages added later are covered too: anonymous → sent to sign-in (a page: 303 to
/login; an htmx fragment: 204 with HX-Redirect), a plain user → 403, never the page.
The JSON side has the same matrix in tests/test_access_matrix.py."""

from __future__ import annotations

import functools
import random
import re

import httpx
import pytest
from starlette.convertors import IntegerConvertor

from medianest.app import MediaNestApp, create_app
from medianest.settings import Settings
from tests.test_access_matrix import _walk

HTML = {"Accept": "text/html"}
HX = {"HX-Request": "true", "Accept": "text/html", "HX-Current-URL": "http://testserver/admin"}
_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


@functools.cache
def admin_pages() -> list[tuple[str, frozenset[str]]]:
    """Every GET page or fragment under /admin, with its integer parameters."""
    app = create_app(Settings(_env_file=None, environment="test"), run_migrations=False)
    found: dict[str, frozenset[str]] = {}
    for route in _walk(app.fastapi.routes):
        path = getattr(route, "path", "")
        if (path == "/admin" or path.startswith("/admin/")) and "GET" in (
            getattr(route, "methods", None) or ()
        ):
            convertors = getattr(route, "param_convertors", {}) or {}
            found[path] = frozenset(
                k for k, v in convertors.items() if isinstance(v, IntegerConvertor)
            )
    return sorted(found.items())


def _url(path: str, ints: frozenset[str]) -> str:
    def fill(match: re.Match[str]) -> str:
        if match.group(1) in ints:
            return str(random.randint(1, 1000))
        return "00000000-0000-4000-8000-000000000001"

    return _PARAM.sub(fill, path)


def test_the_admin_pages_are_read_from_the_route_table() -> None:
    paths = [path for path, _ in admin_pages()]
    for known in ("/admin", "/admin/users", "/admin/system", "/admin/plex-downloads"):
        assert known in paths
    assert "/admin/plex-downloads/rating-progress" in paths  # this stop's fragment


@pytest.mark.parametrize("headers", [HTML, HX], ids=["page", "htmx"])
async def test_no_admin_page_opens_for_anyone_but_an_admin(
    app: MediaNestApp,
    client: httpx.AsyncClient,
    alice_client: httpx.AsyncClient,
    headers: dict[str, str],
) -> None:
    wrong: list[str] = []
    for path, ints in admin_pages():
        url = _url(path, ints)
        anonymous = await client.get(url, headers=headers)
        if headers is HTML:
            sent_to_sign_in = anonymous.status_code == 303 and anonymous.headers[
                "location"
            ].startswith("/login?next=")
        else:
            sent_to_sign_in = anonymous.status_code == 204 and anonymous.headers.get(
                "hx-redirect", ""
            ).startswith("/login")
        if not sent_to_sign_in:
            wrong.append(f"anonymous {url}: {anonymous.status_code}")
        user = await alice_client.get(url, headers=headers)
        if user.status_code != 403:
            wrong.append(f"user {url}: {user.status_code}")
    assert not wrong, wrong
