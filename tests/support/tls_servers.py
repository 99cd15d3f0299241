"""Home-network servers on loopback: certificates as real ones come (Plex's *.plex.direct,
a private CA, a self-signed one), and a small HTTP(S) server that answers every request
with one canned answer (e.g. a redirect) and keeps the heads it was sent."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PLEX_ROOT = b'{"MediaContainer":{"friendlyName":"Home","version":"1.41.3.9314"}}'


@dataclass(frozen=True)
class Issued:
    cert: Path  # PEM: the certificate, then its issuer's when a CA signed it
    key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


class Certificates:
    """A private CA and the certificates it (or nobody) signed, written under `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._ca = self._build(_name("Home CA"), self._ca_key, self._ca_key, [], ca=True)
        self.ca_file = folder / "home-ca.pem"
        self.ca_file.write_bytes(self._ca.public_bytes(serialization.Encoding.PEM))

    def issue(self, *names: str, self_signed: bool = False, days: int = 30) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        issuer_key, issuer = (
            (key, _name(names[0])) if self_signed else (self._ca_key, _name("Home CA"))
        )
        cert = self._build(issuer, issuer_key, key, list(names), days=days)
        stem = self.folder / f"{names[0].replace('*', 'star')}-{'self' if self_signed else 'ca'}"
        chain = cert.public_bytes(serialization.Encoding.PEM)
        if not self_signed:
            chain += self._ca.public_bytes(serialization.Encoding.PEM)
        stem.with_suffix(".pem").write_bytes(chain)
        stem.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return Issued(stem.with_suffix(".pem"), stem.with_suffix(".key"))

    def _build(
        self,
        issuer: x509.Name,
        issuer_key: ec.EllipticCurvePrivateKey,
        key: ec.EllipticCurvePrivateKey,
        names: list[str],
        *,
        ca: bool = False,
        days: int = 30,
    ) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]) if names else issuer)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=2))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_san(n) for n in names]), critical=False
            )
        return builder.sign(issuer_key, hashes.SHA256())


class CannedServer:
    """Answers every request with `answer` (HTTP/1.1 bytes), over TLS when `issued` is
    given; `heads` keeps each request's head as received (after the handshake)."""

    def __init__(self, answer: bytes, *, host: str = "127.0.0.1", issued: Issued | None = None):
        self.answer = answer
        self.host = host
        self.heads: list[bytes] = []
        self._tls: ssl.SSLContext | None = None
        if issued is not None:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(issued.cert, issued.key)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://{self.host}:{self.port}"

    async def __aenter__(self) -> CannedServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self._tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = b"" if self._tls else await reader.readexactly(1)
            if first == b"\x16":
                # A TLS hello at a plain HTTP server: answered as Node and nginx do.
                writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                await writer.drain()
                return
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
                self.heads.append(first + head)
                first = b""
                writer.write(self.answer)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, OSError, ssl.SSLError):
            pass
        finally:
            writer.close()


def json_answer(body: bytes = PLEX_ROOT) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def redirect_answer(location: str, status: int = 301) -> bytes:
    return f"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
