"""HTTP clients for tests that talk to a served app or a simulator over a real socket."""

from __future__ import annotations

from typing import Any

import httpx

from medianest.integrations.http import tls_context


def http_client(**options: Any) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` on the process's one TLS context (the app's own): a client
    left to make its own reads the CA bundle again, ~20 ms of CPU each."""
    return httpx.AsyncClient(verify=tls_context(), **options)


def sync_http_client(**options: Any) -> httpx.Client:
    """`http_client`, blocking."""
    return httpx.Client(verify=tls_context(), **options)
