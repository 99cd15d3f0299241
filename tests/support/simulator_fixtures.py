"""Simulator fixtures for every test directory (a pytest plugin, see tests/conftest.py).

Each simulator starts once per test session, on a loopback port, the first time a test
asks for it, and is reset before and after every test that uses it: tests get seeded
state on real sockets without paying for a start, and a fault (hang, throttle) never
outlives its test. Directories that need another view of one (tests/youtube points
Plex's YouTube library at its download root) build it from the `_*_session` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medianest_simulators import (
    MediaServerSimulator,
    OverseerrSimulator,
    PlexSimulator,
    PlexTvSimulator,
    UptimeKumaSimulator,
)
from medianest_simulators.overseerr_data import User as OverseerrUser

# Where plex.tv says the owner's server is, unless a test points it elsewhere.
PLEXTV_SERVER_URL = "http://127.0.0.1:32400"


@pytest.fixture(scope="session")
def _plextv_session() -> Iterator[PlexTvSimulator]:
    with PlexTvSimulator(server_url=PLEXTV_SERVER_URL) as sim:
        yield sim


@pytest.fixture(scope="session")
def _plex_youtube_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("youtube")


@pytest.fixture(scope="session")
def _plex_session(_plex_youtube_dir: Path) -> Iterator[PlexSimulator]:
    with PlexSimulator(youtube_dir=_plex_youtube_dir) as sim:
        yield sim


@pytest.fixture(scope="session")
def _overseerr_session() -> Iterator[OverseerrSimulator]:
    with OverseerrSimulator() as sim:
        yield sim


@pytest.fixture(scope="session")
def _kuma_session() -> Iterator[UptimeKumaSimulator]:
    with UptimeKumaSimulator() as sim:
        yield sim


@pytest.fixture(scope="session")
def _media_session() -> Iterator[MediaServerSimulator]:
    with MediaServerSimulator() as sim:
        yield sim


@pytest.fixture
def plextv(_plextv_session: PlexTvSimulator) -> Iterator[PlexTvSimulator]:
    _plextv_session.set_server_url(PLEXTV_SERVER_URL)  # another directory may have moved it
    _plextv_session.reset()
    yield _plextv_session
    _plextv_session.reset()


@pytest.fixture
def plex(_plex_session: PlexSimulator, _plex_youtube_dir: Path) -> Iterator[PlexSimulator]:
    _plex_session.set_youtube_dir(_plex_youtube_dir)  # another directory may have moved it
    _plex_session.reset()
    yield _plex_session
    _plex_session.reset()
    for path in sorted(_plex_youtube_dir.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()


@pytest.fixture
def plex_shares(plex: PlexSimulator, plextv: PlexTvSimulator) -> Iterator[PlexTvSimulator]:
    """Plex taking its shared users' tokens and libraries from plex.tv, as Plex Media
    Server does; plex.tv's server entry points at this Plex."""
    plextv.set_server_url(plex.url)
    plex.follow_plextv(plextv.server_share)
    yield plextv
    plex.follow_plextv(None)


@pytest.fixture
def overseerr(_overseerr_session: OverseerrSimulator) -> Iterator[OverseerrSimulator]:
    _overseerr_session.reset()
    yield _overseerr_session
    _overseerr_session.reset()


@pytest.fixture
def alice_in_overseerr(overseerr: OverseerrSimulator) -> OverseerrUser:
    """Overseerr's user imported from alice's Plex account (plex.tv id 1002): user 4,
    the next id after the simulator's own three, the id the tests name it by. With
    Overseerr's default permissions (REQUEST, no auto-approve) her requests wait for an
    admin, as a household member's do in Overseerr; the admin's own are approved."""
    imported = overseerr.add_user("alice.plex", plex_id=1002)
    assert imported.id == 4
    return imported


@pytest.fixture
def bob_in_overseerr(
    overseerr: OverseerrSimulator, alice_in_overseerr: OverseerrUser
) -> OverseerrUser:
    """Bob's Overseerr user (plex.tv id 1003), imported after alice's: user 5; his
    requests wait for approval too."""
    imported = overseerr.add_user("bob.plex", plex_id=1003)
    assert imported.id == 5
    return imported


@pytest.fixture
def kuma(_kuma_session: UptimeKumaSimulator) -> Iterator[UptimeKumaSimulator]:
    _kuma_session.reset()
    yield _kuma_session
    _kuma_session.reset()


@pytest.fixture
def media(_media_session: MediaServerSimulator) -> Iterator[MediaServerSimulator]:
    _media_session.reset()
    yield _media_session
    _media_session.reset()
