"""Simulator fixtures: each simulator is started once per session and reset before every
test, so tests get seeded state on real loopback sockets without paying for a start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from medianest.simulators import (
    MediaServerSimulator,
    OverseerrSimulator,
    PlexSimulator,
    PlexTvSimulator,
    UptimeKumaSimulator,
)
from medianest.simulators.base import Simulator


def _shared(sim: Simulator) -> Iterator[Simulator]:
    with sim:
        yield sim


@pytest.fixture(scope="session")
def _plextv_session() -> Iterator[Simulator]:
    yield from _shared(PlexTvSimulator())


@pytest.fixture(scope="session")
def _plex_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    yield from _shared(PlexSimulator(youtube_dir=tmp_path_factory.mktemp("youtube")))


@pytest.fixture(scope="session")
def _overseerr_session() -> Iterator[Simulator]:
    yield from _shared(OverseerrSimulator())


@pytest.fixture(scope="session")
def _kuma_session() -> Iterator[Simulator]:
    yield from _shared(UptimeKumaSimulator())


@pytest.fixture(scope="session")
def _media_session() -> Iterator[Simulator]:
    yield from _shared(MediaServerSimulator())


@pytest.fixture
def plextv(_plextv_session: PlexTvSimulator) -> PlexTvSimulator:
    _plextv_session.reset()
    return _plextv_session


@pytest.fixture
def plex(_plex_session: PlexSimulator) -> Iterator[PlexSimulator]:
    _plex_session.reset()
    youtube = _plex_session.youtube_dir
    yield _plex_session
    for path in sorted(Path(youtube).rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()


@pytest.fixture
def overseerr(_overseerr_session: OverseerrSimulator) -> OverseerrSimulator:
    _overseerr_session.reset()
    return _overseerr_session


@pytest.fixture
def kuma(_kuma_session: UptimeKumaSimulator) -> UptimeKumaSimulator:
    _kuma_session.reset()
    return _kuma_session


@pytest.fixture
def media(_media_session: MediaServerSimulator) -> MediaServerSimulator:
    _media_session.reset()
    return _media_session


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client
