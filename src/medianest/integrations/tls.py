"""TLS for the services' clients: whom they trust.

One verifying context per CA bundle for the whole process: left to itself httpx loads the
CA bundle again for each client, ~50 ms and ~0.8 MB apiece (a server holds one per
service and one per Plex user: docs/performance.md).
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path

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
