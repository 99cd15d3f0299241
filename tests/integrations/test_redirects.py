"""Redirects from a service, on real loopback sockets: never followed (the key would go
wherever Location points), and reported with the address to save instead of "refused
the request (HTTP 301)"."""

from __future__ import annotations

import pytest
import structlog

from medianest.core.errors import UpstreamError
from tests.support.tls_servers import CannedServer, json_answer, redirect_answer

pytestmark = pytest.mark.timeout(30)

KEY = "overseerr-key-never-elsewhere"


def overseerr_client(make_resilient, url: str):
    return make_resilient(
        url, service="overseerr", default_headers={"X-Api-Key": KEY}, secrets=[KEY]
    )


async def test_an_http_address_that_redirects_to_https_names_the_https_address(make_resilient):
    # A reverse proxy serving Overseerr under a sub-path answers http with a 308 to https.
    location = "https://127.0.0.1:8443/overseerr/api/v1/status"
    async with CannedServer(redirect_answer(location, 308)) as server:
        client = overseerr_client(make_resilient, f"{server.url}/overseerr")
        with pytest.raises(UpstreamError) as moved:
            await client.get_json("/api/v1/status")

    assert moved.value.message == (
        f"Overseerr at {server.url} redirects to https://127.0.0.1:8443/overseerr: save that "
        "as its address (MediaNest does not follow redirects, so a key only goes to the "
        "address you saved)."
    )
    assert [h.split(b"\r\n")[0] for h in server.heads] == [b"GET /overseerr/api/v1/status HTTP/1.1"]


async def test_a_redirect_to_another_host_is_not_followed_and_gets_no_key(make_resilient):
    # 127.0.0.2 is another host on the loopback network.
    async with CannedServer(json_answer(b"{}"), host="127.0.0.2") as elsewhere:
        location = f"{elsewhere.url}/api/v1/status?apiKey={KEY}"
        async with CannedServer(redirect_answer(location, 302)) as server:
            client = overseerr_client(make_resilient, server.url)
            with structlog.testing.capture_logs() as logs, pytest.raises(UpstreamError) as moved:
                await client.get_json("/api/v1/status")

    assert elsewhere.heads == []
    assert moved.value.message == (
        f"Overseerr at {server.url} redirects to another host (127.0.0.2). MediaNest does "
        f"not follow it and sends no key there; if that is the right server, save "
        f"{elsewhere.url} as its address."
    )
    assert KEY not in moved.value.message and KEY not in repr(logs)
    assert len(server.heads) == 1  # a GET, but a redirect is an answer: not retried
