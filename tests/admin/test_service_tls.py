"""The admin's Test button against services over HTTPS as a home network serves them
(real TLS servers on loopback): it says what is wrong with the certificate and what to
do, and the typed token never reaches a server whose certificate was refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.factories.users import prepare_bootstrap_admin, signed_in_client
from tests.support.tls_servers import CannedServer, Certificates, json_answer, redirect_answer

pytestmark = pytest.mark.timeout(60)

TYPED_TOKEN = "typed-plex-token-for-the-test"


@pytest.fixture
def certs(tmp_path) -> Certificates:
    return Certificates(tmp_path)


@pytest.fixture
async def admin(
    app_factory: Callable[..., Any], make_settings: Callable[..., Any], simulator_env, certs
) -> AsyncIterator[httpx.AsyncClient]:
    # The home CA stands in for the public CA that signs Plex's plex.direct certificates.
    app = await app_factory(make_settings(**simulator_env, ca_bundle=certs.ca_file))
    async with await signed_in_client(app, await prepare_bootstrap_admin(app)) as client:
        yield client


async def test_testing_plex_by_ip_address_over_https_names_the_address_to_use(admin, certs):
    issued = certs.issue("*.0f1e2d3c4b5a.plex.direct")
    async with CannedServer(json_answer(), issued=issued) as server:
        response = await admin.post(
            "/api/admin/services/test",
            json={"name": "plex", "url": server.url, "apiKey": TYPED_TOKEN},
        )

    assert response.status_code == 200
    result = response.json()["data"]
    assert result["status"] == "offline" and result["reachable"] is False
    assert result["error"] == (
        "Plex's certificate is for *.0f1e2d3c4b5a.plex.direct, not 127.0.0.1. Use the "
        "server's plex.direct address (https://<its IP with dashes>.<id>.plex.direct:"
        f"{server.port}, as Plex apps show it) or http://127.0.0.1:{server.port}."
    )
    assert server.heads == []  # the typed token was never sent


async def test_testing_a_self_signed_overseerr_says_how_to_trust_it(admin, certs):
    issued = certs.issue("127.0.0.1", self_signed=True)
    async with CannedServer(json_answer(b"{}"), issued=issued) as server:
        response = await admin.post(
            "/api/admin/services/test",
            json={"name": "overseerr", "url": server.url, "apiKey": "typed-key"},
        )

    result = response.json()["data"]
    assert result["status"] == "offline"
    assert "self-signed certificate" in result["error"]
    assert "MEDIANEST_CA_BUNDLE" in result["error"]
    assert server.heads == []


async def test_testing_an_http_address_that_redirects_to_https_names_the_address(admin):
    location = "https://127.0.0.1:8443/overseerr/api/v1/status"
    async with CannedServer(redirect_answer(location, 301)) as server:
        response = await admin.post(
            "/api/admin/services/test",
            json={"name": "overseerr", "url": f"{server.url}/overseerr", "apiKey": "typed-key"},
        )

    result = response.json()["data"]
    assert result["status"] == "degraded"  # it answers, but not at this address
    assert result["error"] == (
        f"Overseerr at {server.url} redirects to https://127.0.0.1:8443/overseerr: save that "
        "as its address (MediaNest does not follow redirects, so a key only goes to the "
        "address you saved)."
    )


async def test_testing_an_http_address_of_a_server_that_speaks_only_https_names_https(admin, certs):
    # A TLS-only port (OpenSSL's or Node's server) closes on plain HTTP, answering nothing.
    async with CannedServer(json_answer(), issued=certs.issue("127.0.0.1")) as server:
        http = server.url.replace("https://", "http://")
        response = await admin.post(
            "/api/admin/services/test",
            json={"name": "plex", "url": http, "apiKey": TYPED_TOKEN},
        )

    result = response.json()["data"]
    assert result["status"] == "offline" and result["reachable"] is False
    assert result["error"] == (
        f"Plex at 127.0.0.1:{server.port} speaks HTTPS, not plain HTTP: "
        f"save https://127.0.0.1:{server.port} as its address."
    )


async def kuma_live_test(admin, url: str) -> dict[str, Any]:
    response = await admin.post(
        "/api/admin/services/test",
        json={
            "name": "uptime_kuma",
            "url": url,
            "apiKey": "",
            "password": "typed-kuma-password",
            "config": {"source": "socket", "username": "admin"},
        },
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_the_uptime_kuma_live_connection_trusts_the_ca_bundle_too(admin, certs):
    # Not a Socket.IO server: enough to see the handshake pass and the upgrade arrive.
    async with CannedServer(json_answer(b"{}"), issued=certs.issue("127.0.0.1")) as server:
        result = await kuma_live_test(admin, server.url)

    assert result["status"] == "offline"
    # Both tries pass the handshake: the WebSocket, then (no Socket.IO answered it, as a
    # proxy refusing the upgrade would) the long-polling fallback, each once.
    paths = [h.split(b" ")[1].split(b"?")[0] for h in server.heads]
    assert paths == [b"/socket.io/", b"/socket.io/"], server.heads
    assert b"transport=websocket" in server.heads[0]
    assert b"transport=polling" in server.heads[1]
    assert all(b"typed-kuma-password" not in h for h in server.heads)


async def test_the_uptime_kuma_live_connection_names_a_refused_certificate(admin, certs):
    issued = certs.issue("127.0.0.1", self_signed=True)
    async with CannedServer(json_answer(b"{}"), issued=issued) as server:
        result = await kuma_live_test(admin, server.url)

    assert result["status"] == "offline"
    assert "self-signed certificate" in result["error"]
    assert server.heads == []


async def test_the_uptime_kuma_live_connection_at_http_of_an_https_only_kuma_names_https(
    admin, certs
):
    # Kuma behind a TLS-only port: the plain HTTP upgrade is closed, answering nothing.
    async with CannedServer(json_answer(b"{}"), issued=certs.issue("127.0.0.1")) as server:
        http = server.url.replace("https://", "http://")
        result = await kuma_live_test(admin, f"{http}/kuma")

    assert result["status"] == "offline"
    assert result["error"] == (
        f"Uptime Kuma at 127.0.0.1:{server.port} speaks HTTPS, not plain HTTP: "
        f"save https://127.0.0.1:{server.port}/kuma as its address."
    )
    assert server.heads == []
