"""Services over HTTPS as a home network serves them, on real loopback sockets: a home
CA, a self-signed certificate, Plex's *.plex.direct certificate reached by IP address,
an HTTPS address for a server that speaks plain HTTP."""

from __future__ import annotations

import asyncio

import pydantic
import pytest
import structlog

from medianest.core.errors import ServiceUnavailable
from medianest.integrations.uptime_kuma_live import KumaSignIn, socket_health
from tests.integrations.conftest import quick_settings
from tests.ops.nginx_proxy import NginxProxy, nginx_available
from tests.support.tls_servers import CannedServer, Certificates, json_answer

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def certs(tmp_path) -> Certificates:
    return Certificates(tmp_path)


async def test_a_service_behind_a_home_ca_is_trusted_once_its_ca_is_in_the_ca_bundle(
    certs, make_resilient
):
    async with CannedServer(json_answer(), issued=certs.issue("127.0.0.1")) as server:
        untrusted = make_resilient(server.url)
        with pytest.raises(ServiceUnavailable):
            await untrusted.get_json("/")
        assert server.heads == []  # refused at the handshake: no request, no key sent

        trusted = make_resilient(server.url, settings=quick_settings(ca_bundle=certs.ca_file))
        fetched = await trusted.get_json("/")

    assert fetched.data["MediaContainer"]["friendlyName"] == "Home"


async def test_a_self_signed_certificate_is_trusted_once_it_is_in_the_ca_bundle(
    certs, make_resilient
):
    issued = certs.issue("127.0.0.1", self_signed=True)
    async with CannedServer(json_answer(), issued=issued) as server:
        client = make_resilient(server.url, settings=quick_settings(ca_bundle=issued.cert))
        fetched = await client.get_json("/")

    assert fetched.data["MediaContainer"]["version"] == "1.41.3.9314"


async def test_the_ca_bundle_still_checks_the_name_the_certificate_is_for(certs, make_resilient):
    # Trusting a home CA is not trusting any certificate: one for another host is refused.
    issued = certs.issue("nas.home.arpa")
    async with CannedServer(json_answer(), issued=issued) as server:
        client = make_resilient(server.url, settings=quick_settings(ca_bundle=certs.ca_file))
        with pytest.raises(ServiceUnavailable):
            await client.get_json("/")
        assert server.heads == []


def test_a_ca_bundle_that_is_not_a_certificate_file_stops_the_start(tmp_path):
    junk = tmp_path / "not-a-ca.pem"
    junk.write_text("hello")
    for value in (junk, tmp_path / "missing.pem"):
        with pytest.raises(pydantic.ValidationError, match=r"ca_bundle[\s\S]*PEM"):
            quick_settings(ca_bundle=value)


TOKEN = "plex-token-never-sent"


def plex_client(make_resilient, url: str, **settings):
    return make_resilient(
        url,
        service="plex",
        settings=quick_settings(**settings),
        default_headers={"X-Plex-Token": TOKEN},
        secrets=[TOKEN],
    )


async def test_plex_by_ip_with_its_plex_direct_certificate_says_which_address_to_use(
    certs, make_resilient
):
    # Plex's real certificate is for *.<id>.plex.direct from a public CA; the home CA in
    # the bundle stands in for that public CA here, so only the name is wrong.
    issued = certs.issue("*.0f1e2d3c4b5a.plex.direct")
    async with CannedServer(json_answer(), issued=issued) as server:
        client = plex_client(make_resilient, server.url, ca_bundle=certs.ca_file)
        with structlog.testing.capture_logs() as logs, pytest.raises(ServiceUnavailable) as refused:
            await client.get_json("/library/sections")

    message = refused.value.message
    assert "certificate is for *.0f1e2d3c4b5a.plex.direct, not 127.0.0.1" in message
    assert "plex.direct address" in message and f"http://127.0.0.1:{server.port}" in message
    assert refused.value.details["reason"] == "tls"
    assert server.heads == []  # the token never left: refused at the handshake
    tries = [e["status"] for e in logs if e["event"] == "upstream_call"]
    assert tries == ["tls_refused"]  # a GET, yet not retried: retrying cannot fix it
    assert TOKEN not in repr(logs)


async def test_a_self_signed_certificate_is_named_with_what_to_do(certs, make_resilient):
    issued = certs.issue("127.0.0.1", self_signed=True)
    async with CannedServer(json_answer(), issued=issued) as server:
        client = plex_client(make_resilient, server.url)
        with pytest.raises(ServiceUnavailable) as refused:
            await client.get_json("/")

    assert "self-signed certificate" in refused.value.message
    assert "MEDIANEST_CA_BUNDLE" in refused.value.message
    assert server.heads == []


async def test_a_certificate_from_a_home_ca_is_named_with_what_to_do(certs, make_resilient):
    async with CannedServer(json_answer(), issued=certs.issue("127.0.0.1")) as server:
        client = plex_client(make_resilient, server.url)
        with pytest.raises(ServiceUnavailable) as refused:
            await client.get_json("/")

    assert "certificate authority MediaNest does not trust" in refused.value.message
    assert "its CA in the file MEDIANEST_CA_BUNDLE names" in refused.value.message
    assert server.heads == []


async def test_an_https_address_of_a_plain_http_server_says_to_use_http(make_resilient):
    async with CannedServer(json_answer()) as server:
        https = server.url.replace("http://", "https://")
        client = plex_client(make_resilient, https)
        with pytest.raises(ServiceUnavailable) as refused:
            await client.get_json("/")

    assert refused.value.message == (
        f"Plex at 127.0.0.1:{server.port} does not speak HTTPS: use {server.url} instead."
    )


async def test_an_http_address_of_a_server_that_speaks_only_https_says_to_save_https(
    certs, make_resilient
):
    # A bare TLS server (OpenSSL here, Node's too) closes on a plain HTTP request.
    async with CannedServer(json_answer(), issued=certs.issue("127.0.0.1")) as server:
        http = server.url.replace("https://", "http://")
        client = plex_client(make_resilient, http)
        with structlog.testing.capture_logs() as logs, pytest.raises(ServiceUnavailable) as refused:
            await client.get_json("/library/sections")

    assert refused.value.message == (
        f"Plex at 127.0.0.1:{server.port} speaks HTTPS, not plain HTTP: "
        f"save https://127.0.0.1:{server.port} as its address."
    )
    assert refused.value.details["reason"] == "tls"
    tries = [e["status"] for e in logs if e["event"] == "upstream_call"]
    assert tries == ["speaks_https"]  # a GET, yet not retried: retrying cannot fix it
    assert TOKEN not in repr(logs)


@pytest.mark.skipif(not nginx_available(), reason="nginx is not installed")
async def test_an_http_address_of_an_https_only_reverse_proxy_says_to_save_https(
    tmp_path, make_resilient
):
    # MediaNest's own nginx configuration in front of an Overseerr: plain HTTP at its TLS
    # port is answered "400 The plain HTTP request was sent to HTTPS port".
    async with CannedServer(json_answer(b"{}")) as overseerr:
        proxy = NginxProxy(tmp_path, overseerr.port)
        await asyncio.to_thread(proxy.start)
        try:
            client = make_resilient(
                f"http://127.0.0.1:{proxy.https_port}/overseerr", service="overseerr"
            )
            with pytest.raises(ServiceUnavailable) as refused:
                await client.get_json("/api/v1/status")
        finally:
            await asyncio.to_thread(proxy.stop)

    assert refused.value.message == (
        f"Overseerr at 127.0.0.1:{proxy.https_port} speaks HTTPS, not plain HTTP: "
        f"save https://127.0.0.1:{proxy.https_port}/overseerr as its address."
    )
    assert overseerr.heads == []  # nginx did not pass the request on


@pytest.mark.skipif(not nginx_available(), reason="nginx is not installed")
async def test_the_kuma_live_link_at_http_of_an_https_only_reverse_proxy_says_to_save_https(
    tmp_path,
):
    # The Socket.IO upgrade in plain HTTP at nginx's TLS port is answered with its 400.
    async with CannedServer(json_answer(b"{}")) as kuma:
        proxy = NginxProxy(tmp_path, kuma.port)
        await asyncio.to_thread(proxy.start)
        try:
            url = f"http://127.0.0.1:{proxy.https_port}"
            health, link = await socket_health(KumaSignIn(url, "admin", "pw"), wait_seconds=2)
        finally:
            await asyncio.to_thread(proxy.stop)

    assert (health.status, link) == ("offline", None)
    assert health.error == (
        f"Uptime Kuma at 127.0.0.1:{proxy.https_port} speaks HTTPS, not plain HTTP: "
        f"save https://127.0.0.1:{proxy.https_port} as its address."
    )
    assert kuma.heads == []


async def test_a_plain_http_server_that_closes_without_answering_is_still_unreachable(
    make_resilient,
):
    # No TLS behind it: the look at the port finds none, and the usual outage stands.
    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.close()

    server = await asyncio.start_server(close_at_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = make_resilient(f"http://127.0.0.1:{port}", service="plex")
        with structlog.testing.capture_logs() as logs, pytest.raises(ServiceUnavailable) as down:
            await client.get_json("/")
    finally:
        server.close()
        await server.wait_closed()

    assert down.value.message.startswith("Plex cannot be reached")
    assert down.value.details.get("reason") != "tls"
    tries = [e["status"] for e in logs if e["event"] == "upstream_call"]
    assert tries == ["transport_error"] * 3  # retried as an outage
