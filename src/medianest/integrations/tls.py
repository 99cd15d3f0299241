"""TLS for the services' clients: whom they trust, and why a handshake failed in words
an admin can act on (a certificate for another name, a self-signed one, plain HTTP, an
http:// address of a server that speaks only HTTPS).

One verifying context per CA bundle for the whole process: left to itself httpx loads the
CA bundle again for each client, ~50 ms and ~0.8 MB apiece (a server holds one per
service and one per Plex user: docs/performance.md).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from pathlib import Path
from typing import Literal

import httpx


@functools.cache
def tls_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """httpx's default TLS settings (the public CAs), plus the CAs of `ca_bundle` (the
    MEDIANEST_CA_BUNDLE setting: a home CA, or a service's self-signed certificate).
    Verification stays on: a certificate is checked before any request, so a key or
    token is never sent to a server whose certificate was refused."""
    context = httpx.create_ssl_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


# OpenSSL's verify codes (X509_V_ERR_*) behind what an admin can do about each.
_NOT_YET_VALID, _EXPIRED = 9, 10
_SELF_SIGNED = 18  # the certificate signed itself
_UNKNOWN_CA = frozenset({2, 19, 20, 21})  # a chain to a CA we do not trust (a home CA)
_WRONG_NAME = frozenset({62, 64})  # hostname / IP address mismatch
# What OpenSSL says when the "TLS" answer is plain HTTP (3.0, then 3.2 and later).
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST"})
# What a front end answers (HTTP 400) to plain HTTP at its HTTPS port: nginx, and Go's
# net/http (Caddy, Traefik). A bare TLS server (OpenSSL's, Node's) closes instead.
_PLAIN_AT_TLS_PORT = (
    "The plain HTTP request was sent to HTTPS port",
    "Client sent an HTTP request to an HTTPS server",
)
_CA_HINT = (
    "put that certificate in the file MEDIANEST_CA_BUNDLE names (admin guide: HTTPS), "
    "or use the service's http:// address on your home network."
)


def tls_refusal(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a failed connection, or None: the innermost, as OpenSSL
    raised it (httpx wraps it twice; aiohttp in an SSLError of its own, without the
    verify code)."""
    seen: set[int] = set()
    found: ssl.SSLError | None = None
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            found = current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return found


async def explain_refusal(name: str, url: httpx.URL, error: ssl.SSLError) -> str:
    """What is wrong with the secure connection to `url`, and what the admin can do."""
    host, port = url.host, url.port or 443
    where = f"{host}:{port}"
    if not isinstance(error, ssl.SSLCertVerificationError):
        if error.reason in _NOT_TLS:
            return f"{name} at {where} does not speak HTTPS: use http://{where} instead."
        return f"The secure connection to {name} at {where} failed ({error.reason or error})."
    code = getattr(error, "verify_code", None)
    if code in _WRONG_NAME:
        return wrong_name(name, host, port, await certificate_names(host, port))
    if code == _SELF_SIGNED:
        return f"{name} at {where} has a self-signed certificate, which is not trusted: {_CA_HINT}"
    if code in _UNKNOWN_CA:
        return (
            f"{name}'s certificate at {where} comes from a certificate authority MediaNest "
            f"does not trust (your own CA?): {_CA_HINT.replace('that certificate', 'its CA')}"
        )
    if code == _EXPIRED:
        return f"{name}'s certificate at {where} has expired: renew it (or check its clock)."
    if code == _NOT_YET_VALID:
        return f"{name}'s certificate at {where} is not valid yet: check the clocks."
    return (
        f"{name}'s certificate at {where} was refused: {getattr(error, 'verify_message', error)}."
    )


def plain_http_refused(response: httpx.Response) -> bool:
    """An http:// request answered with a front end's "this port speaks HTTPS" 400."""
    return (
        response.status_code == 400
        and response.request.url.scheme == "http"
        and any(phrase in response.text for phrase in _PLAIN_AT_TLS_PORT)
    )


async def speaks_tls(url: httpx.URL, *, timeout: float = 2.0) -> bool:  # noqa: ASYNC109
    """Whether the server at `url`'s host and port completes a TLS handshake (in a
    connection of its own that sends nothing else; the certificate is not judged): asked
    only when a plain HTTP request there got no answer, to say why."""
    look = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    look.check_hostname, look.verify_mode = False, ssl.CERT_NONE
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(url.host, _port(url), ssl=look)
    except (OSError, TimeoutError):  # ssl.SSLError is an OSError
        return False
    writer.close()
    return True


def speaks_https(name: str, url: httpx.URL) -> str:
    """The message for an http:// address whose server speaks only HTTPS."""
    port = _port(url)
    https = str(url.copy_with(scheme="https", port=port, query=None, fragment=None)).rstrip("/")
    return f"{name} at {url.host}:{port} speaks HTTPS, not plain HTTP: save {https} as its address."


TlsProblemKind = Literal["tls_refused", "speaks_https"]


async def tls_problem(
    name: str, url: httpx.URL, exc: BaseException, *, unanswered: bool
) -> tuple[TlsProblemKind, str] | None:
    """What TLS has to do with a failed connection to `url`, for every client (the HTTP
    clients' `retries.py` and Uptime Kuma's live link): a refused handshake, or, when the
    connection got no answer (`unanswered`), an http:// address of a server that speaks
    only HTTPS; its kind (for logs) and the message. None when TLS is not the reason."""
    if (refused := tls_refusal(exc)) is not None:
        return "tls_refused", await explain_refusal(name, url, refused)
    if unanswered and url.scheme == "http" and await speaks_tls(url):
        return "speaks_https", speaks_https(name, url)
    return None


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def wrong_name(name: str, host: str, port: int, names: list[str]) -> str:
    """The certificate is for other names than the one in the URL."""
    held = f"is for {', '.join(names[:3])}, not {host}" if names else f"is not for {host}"
    said = f"{name}'s certificate {held}."
    if any(n.endswith(".plex.direct") for n in names):
        # Plex's own certificate holds for its plex.direct names only.
        return (
            f"{said} Use the server's plex.direct address (https://<its IP with dashes>."
            f"<id>.plex.direct:{port}, as Plex apps show it) or http://{host}:{port}."
        )
    exact = [n for n in names if not n.startswith("*.")]
    return f"{said} Use the address it names" + (
        f", e.g. https://{exact[0]}:{port}." if exact else "."
    )


async def certificate_names(host: str, port: int, *, timeout: float = 3.0) -> list[str]:  # noqa: ASYNC109
    """The names the server's certificate is for, read in a handshake of its own that
    sends nothing: for the admin's message only (empty when it cannot be read)."""
    # Here, not at the top: a served process that never meets a refused certificate
    # does not load cryptography's ciphers (start-up time and memory, docs/performance.md).
    from cryptography import x509

    look = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    look.check_hostname, look.verify_mode = False, ssl.CERT_NONE
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port, ssl=look)
        try:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            writer.close()
        cert = x509.load_der_x509_certificate(der)
    except (OSError, TimeoutError, ValueError, AttributeError):
        return []
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return [str(n) for n in alt.get_values_for_type(x509.DNSName)] + [
            str(ip) for ip in alt.get_values_for_type(x509.IPAddress)
        ]
    except x509.ExtensionNotFound:
        common = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return [str(common[0].value)] if common else []
