"""Fixtures for the integration clients: the shared simulators, quick resilience settings,
and a factory for `ResilientClient`s that are closed after the test."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from medianest.integrations.http import ResilientClient
from medianest.settings import Settings

_names = itertools.count()


def quick_settings(**overrides: Any) -> Settings:
    """Settings with backoffs in hundredths of a second and a breaker that trips quickly."""
    values: dict[str, Any] = {
        "environment": "test",
        "http_retry_initial_seconds": 0.01,
        "breaker_min_volume": 4,
        "breaker_reset_seconds": 0.3,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def make_resilient() -> AsyncIterator[Callable[..., ResilientClient]]:
    """Build clients with a unique service name each (metrics and breakers stay apart)."""
    clients: list[ResilientClient] = []

    def build(base_url: str, *, settings: Settings | None = None, **kwargs: Any) -> ResilientClient:
        client = ResilientClient(
            kwargs.pop("service", f"svc{next(_names)}"),
            base_url,
            settings=settings or quick_settings(),
            **kwargs,
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()
