"""Services over HTTPS as a home network serves them, on real loopback sockets: a home
CA, a self-signed certificate, Plex's *.plex.direct certificate reached by IP address,
an HTTPS address for a server that speaks plain HTTP."""

from __future__ import annotations

import pydantic
import pytest
import structlog

from medianest.core.errors import ServiceUnavailable
from tests.integrations.conftest import quick_settings
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
