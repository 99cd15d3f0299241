"""The security headers every answer carries: a page (or a script, whose policy governs a
service worker's own requests) gets the page's policy, any other answer a policy that
lets it load nothing, and a 304 none, so the browser keeps the one of the answer it kept."""

from __future__ import annotations

import httpx

from medianest.core.middleware import OTHER_SECURITY_HEADERS, PAGE_SECURITY_HEADERS

PAGE_POLICY = dict(PAGE_SECURITY_HEADERS)[b"content-security-policy"].decode()
STRICT_POLICY = dict(OTHER_SECURITY_HEADERS)[b"content-security-policy"].decode()


def assert_framing_and_sniffing_refused(answer: httpx.Response) -> None:
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


async def test_a_page_and_a_script_get_the_page_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/login", headers={"Accept": "text/html"})
    worker = await client.get("/sw.js")
    script = await client.get("/static/app.js")
    for answer in (page, worker, script):
        assert answer.status_code == 200, answer.url
        assert answer.headers["content-security-policy"] == PAGE_POLICY
        assert answer.headers["referrer-policy"] == "same-origin"
        assert_framing_and_sniffing_refused(answer)
    assert "script-src 'self'" in PAGE_POLICY


async def test_json_images_styles_and_errors_get_a_policy_that_loads_nothing(
    client: httpx.AsyncClient, alice_client: httpx.AsyncClient
) -> None:
    answers = [
        await alice_client.get("/api/dashboard/status"),
        await client.get("/api/dashboard/status"),  # 401
        await client.get("/api/health"),
        await client.get("/static/app.css"),
        await client.get("/static/icon.svg"),  # an SVG opened on its own runs no script
        await alice_client.get("/api/no/such/endpoint"),
    ]
    assert [answer.status_code for answer in answers] == [200, 401, 200, 200, 200, 404]
    for answer in answers:
        assert answer.headers["content-security-policy"] == STRICT_POLICY, answer.url
        assert "referrer-policy" not in answer.headers
        assert_framing_and_sniffing_refused(answer)
    assert STRICT_POLICY == "default-src 'none'; frame-ancestors 'none'"


async def test_a_304_leaves_the_kept_answers_policy_alone(
    alice_client: httpx.AsyncClient,
) -> None:
    fragment = {"HX-Request": "true", "Accept": "text/html"}
    for path, headers, policy in [
        ("/api/youtube/downloads", {}, STRICT_POLICY),
        ("/youtube/downloads", fragment, PAGE_POLICY),
    ]:
        first = await alice_client.get(path, headers=headers)
        assert first.status_code == 200
        assert first.headers["content-security-policy"] == policy
        again = await alice_client.get(
            path, headers={**headers, "If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304
        assert "content-security-policy" not in again.headers
        assert "referrer-policy" not in again.headers
        assert_framing_and_sniffing_refused(again)
