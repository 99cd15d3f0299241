"""The admin's YouTube cookies (`/api/admin/youtube/cookies` and the admin page's panel):
a browser's cookies.txt export is checked line by line as yt-dlp reads it, refused with
the reason (binary, JSON, not Netscape, too large, cookies of hosts MediaNest never
downloads from), stored encrypted, and never shown or logged again."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
import structlog
from sqlalchemy import select
from yt_dlp.cookies import YoutubeDLCookieJar

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.platform.models import AuditLog, SystemSetting
from medianest.settings import Settings
from medianest.youtube.cookies import store as youtube_cookies
from medianest.youtube.cookies.netscape import MAX_COOKIE_FILE_BYTES
from tests.factories.users import make_client, signed_in_client

HX = {"HX-Request": "true", "Accept": "text/html"}
MEDIA_HOST = "media.lan:8080"
SECRET = "AKEyXzWx-s3cr3t-session-value"
ROTATING = "sidts-3PSIDTS-s3cr3t"
# As "Get cookies.txt LOCALLY" exports youtube.com: HttpOnly lines prefixed, CRLF line
# ends (a Windows browser), a session cookie with expiry 0.
BROWSER_EXPORT = (
    "# Netscape HTTP Cookie File\r\n"
    "# http://curl.haxx.se/rfc/cookie_spec.html\r\n"
    "# This is a generated file!  Do not edit.\r\n"
    "\r\n"
    f".youtube.com\tTRUE\t/\tTRUE\t1830000000\t__Secure-3PSID\t{SECRET}\r\n"
    f"#HttpOnly_.youtube.com\tTRUE\t/\tTRUE\t1799999999\t__Secure-3PSIDTS\t{ROTATING}\r\n"
    ".youtube.com\tTRUE\t/\tTRUE\t0\tYSC\tysc-value\r\n"
    # An exporter that sets the subdomain flag without the dot: http.cookiejar asserts
    # they match and would refuse the whole file; stored with the flag from the dot.
    "www.youtube.com\tTRUE\t/\tFALSE\t1830000000\tPREF\tf6=40000000\r\n"
)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(youtube_extra_hosts=MEDIA_HOST)


async def stored_row(app: MediaNestApp) -> str:
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(SystemSetting, youtube_cookies.COOKIES_KEY)
        return json.dumps(row.value) if row is not None else ""


async def test_a_browser_export_is_stored_encrypted_and_only_described_afterwards(
    app: MediaNestApp, admin_client: httpx.AsyncClient
) -> None:
    with structlog.testing.capture_logs() as logs:
        saved = await admin_client.put(
            "/api/admin/youtube/cookies", json={"cookies": BROWSER_EXPORT}
        )
        shown = await admin_client.get("/api/admin/youtube/cookies")
        page = await admin_client.get("/admin/youtube-cookies", headers=HX)
    assert saved.status_code == 200, saved.text
    data = shown.json()["data"]
    assert data["set"] is True and data["count"] == 4
    assert data["domains"] == ["www.youtube.com", "youtube.com"]
    assert data["earliestExpiry"].startswith(
        datetime.fromtimestamp(1799999999, UTC).isoformat()[:19]
    )
    assert data["savedAt"] is not None
    assert "4" in page.text and "youtube.com" in page.text
    row = await stored_row(app)
    for secret in (SECRET, ROTATING, "ysc-value"):
        assert secret not in saved.text + shown.text + page.text
        assert secret not in row
        assert secret not in repr(logs)
    async with session_scope(app.ctx.session_factory) as session:
        audits = list(await session.scalars(select(AuditLog)))
    assert [a.action for a in audits if a.action.startswith("youtube.cookies")] == [
        "youtube.cookies.save"
    ]
    assert SECRET not in repr([a.details for a in audits])

    # What yt-dlp gets loads in yt-dlp's own jar, every cookie included.
    lease = await youtube_cookies.checkout(app.ctx.session_factory, app.ctx.secret_box)
    assert lease is not None
    jar = YoutubeDLCookieJar()
    jar.load(io.StringIO(lease.text))
    assert {c.name: c.value for c in jar} == {
        "__Secure-3PSID": SECRET,
        "__Secure-3PSIDTS": ROTATING,
        "YSC": "ysc-value",
        "PREF": "f6=40000000",
    }


async def test_the_admin_removes_the_cookies(
    app: MediaNestApp, admin_client: httpx.AsyncClient
) -> None:
    await admin_client.put("/api/admin/youtube/cookies", json={"cookies": BROWSER_EXPORT})
    removed = await admin_client.delete("/api/admin/youtube/cookies")
    assert removed.status_code == 200
    assert removed.json()["data"]["set"] is False
    assert (await admin_client.get("/api/admin/youtube/cookies")).json()["data"]["set"] is False
    assert await youtube_cookies.checkout(app.ctx.session_factory, app.ctx.secret_box) is None
    assert await stored_row(app) == ""


def _line(domain: str, name: str = "c", value: str = "v") -> str:
    flag = "TRUE" if domain.startswith(".") else "FALSE"
    return f"{domain}\t{flag}\t/\tTRUE\t1830000000\t{name}\t{value}\n"


HUGE = "# Netscape HTTP Cookie File\n" + "".join(
    _line(".youtube.com", f"c{n}", "x" * 100) for n in range(MAX_COOKIE_FILE_BYTES // 100)
)
REFUSED = {
    # NUL is refused for every API text field (422, the field named); other control bytes here.
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".decode("latin-1"), 422, None),
    "binary_no_nul": (b"\x89PNG\r\n\x1a\n\x01\x02\x1b\x7fIHDR".decode("latin-1"), 400, "not_text"),
    "json": ('[{"domain": ".youtube.com", "name": "SID", "value": "x"}]', 400, "json"),
    "not_netscape": ("SID=abc; HSID=def\n", 400, "not_netscape"),
    "short_line": (_line(".youtube.com").replace("\t/\t", "\t"), 400, "not_netscape"),
    "no_cookies": ("# Netscape HTTP Cookie File\n# nothing exported\n\n", 400, "no_cookies"),
    "empty": ("", 400, "no_cookies"),
    "huge": (HUGE, 413, None),
    "foreign": (
        _line(".youtube.com")
        + _line(".google.com")
        + _line(".evil.example")
        + "#HttpOnly_accounts.example.org\tFALSE\t/\tTRUE\t0\tx\ty\n"
        + _line("10.0.0.1")
        + _line("media.lan.evil.example")
        + _line(".youtube.com.evil.example")
        + _line("notyoutube.com"),
        400,
        "foreign_domains",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_an_upload_that_is_not_youtube_cookies_is_refused_and_nothing_is_stored(
    app: MediaNestApp, admin_client: httpx.AsyncClient, case: str
) -> None:
    text, status, reason = REFUSED[case]
    refused = await admin_client.put("/api/admin/youtube/cookies", json={"cookies": text})
    assert refused.status_code == status, refused.text
    body = refused.json()
    assert body["success"] is False
    if reason is not None:
        assert body["error"]["details"]["reason"] == reason
    if case == "foreign":  # named, not dropped: the admin decides what to send
        assert body["error"]["details"]["domains"] == [
            ".evil.example",
            ".youtube.com.evil.example",
            "10.0.0.1",
            "accounts.example.org",
            "media.lan.evil.example",
            "notyoutube.com",
        ]
    if case == "not_netscape":
        assert body["error"]["details"]["lines"][0]["line"] == 1
    assert await stored_row(app) == ""


async def test_the_page_refuses_the_same_way_without_showing_the_text_back(
    app: MediaNestApp, admin_client: httpx.AsyncClient
) -> None:
    hostile = _line(".youtube.com", "SID", SECRET) + _line(".evil.example", "x", "<script>")
    refused = await admin_client.put(
        "/admin/youtube-cookies", data={"cookies": hostile}, headers=HX
    )
    assert refused.status_code == 400
    assert ".evil.example" in refused.text
    assert SECRET not in refused.text and "<script>" not in refused.text
    saved = await admin_client.put(
        "/admin/youtube-cookies", data={"cookies": BROWSER_EXPORT}, headers=HX
    )
    assert saved.status_code == 200
    assert "YouTube cookies saved (4)" in saved.headers["hx-trigger"]
    assert SECRET not in saved.text
    removed = await admin_client.delete("/admin/youtube-cookies", headers=HX)
    assert removed.status_code == 200 and 'data-cookies-set="false"' in removed.text


async def test_cookies_of_an_operator_listed_media_host_are_accepted_by_name(
    admin_client: httpx.AsyncClient,
) -> None:
    """The download allow-list's own rule: MEDIANEST_YOUTUBE_EXTRA_HOSTS names
    media.lan:8080, so a cookie for media.lan (cookies name no port) is one yt-dlp may
    send; a look-alike above or below it is not."""
    accepted = await admin_client.put(
        "/api/admin/youtube/cookies", json={"cookies": _line("media.lan")}
    )
    assert accepted.status_code == 200
    for other in (".lan", "evil.media.lan"):
        refused = await admin_client.put(
            "/api/admin/youtube/cookies", json={"cookies": _line(other)}
        )
        assert refused.status_code == 400, other


async def test_only_admins_reach_the_cookies(app: MediaNestApp, alice: User) -> None:
    routes = [("GET", None), ("PUT", {"cookies": BROWSER_EXPORT}), ("DELETE", None)]
    async with make_client(app) as anonymous, await signed_in_client(app, alice) as user:
        for method, body in routes:
            url = "/api/admin/youtube/cookies"
            assert (await anonymous.request(method, url, json=body)).status_code == 401
            assert (await user.request(method, url, json=body)).status_code == 403
            page = await user.request(method, "/admin/youtube-cookies", headers=HX)
            assert page.status_code == 403
    assert await stored_row(app) == ""


async def test_an_export_without_the_header_line_is_stored_with_it_for_yt_dlp(
    app: MediaNestApp, admin_client: httpx.AsyncClient
) -> None:
    """http.cookiejar refuses a file whose first line is not "# Netscape HTTP Cookie
    File" (`MozillaCookieJar._really_load`): some exporters leave it out."""
    bare = _line(".youtube.com", "SID", SECRET).replace("1830000000", "1830000000.5")
    saved = await admin_client.put("/api/admin/youtube/cookies", json={"cookies": bare})
    assert saved.status_code == 200, saved.text
    lease = await youtube_cookies.checkout(app.ctx.session_factory, app.ctx.secret_box)
    assert lease is not None
    jar = YoutubeDLCookieJar()
    jar.load(io.StringIO(lease.text))
    assert [(c.domain, c.name, c.value) for c in jar] == [(".youtube.com", "SID", SECRET)]
