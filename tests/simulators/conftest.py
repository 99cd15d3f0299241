"""Simulator tests: the simulators themselves come from tests/support/simulator_fixtures.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.http import sync_http_client


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with sync_http_client(timeout=5) as client:
        yield client
