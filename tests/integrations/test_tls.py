"""Services over HTTPS as a home network serves them, on real loopback sockets: a home
CA, a self-signed certificate, Plex's *.plex.direct certificate reached by IP address,
an HTTPS address for a server that speaks plain HTTP."""

from __future__ import annotations

import pydantic
import pytest

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
