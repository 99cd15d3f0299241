"""The download root as Plex names it: POSIX mounts, Windows drives and shares."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from medianest.core.errors import ValidationFailed
from medianest.plex.paths import PathMap, check_plex_path, plex_within

ROOT = Path("/data/downloads")
USER = uuid.UUID("6f1c0b1e-4a4b-4c59-9d7e-0f3c2b8f1a11")


def test_without_a_plex_path_plex_names_our_own_path() -> None:
    paths = PathMap.of(ROOT, None)
    assert not paths.translated
    assert paths.to_plex(ROOT / str(USER) / "Mix") == f"/data/downloads/{USER}/Mix"


def test_a_posix_mount_translates_both_ways() -> None:
    paths = PathMap.of(ROOT, "/media/youtube")
    local = ROOT / str(USER) / "Mix" / "001 - A.mp4"
    assert paths.to_plex(local) == f"/media/youtube/{USER}/Mix/001 - A.mp4"
    assert paths.to_local(f"/media/youtube/{USER}/Mix/001 - A.mp4") == local
    assert paths.owner_of(f"/media/youtube/{USER}/Mix/001 - A.mp4") == USER


def test_paths_outside_the_mapped_root_belong_to_nobody() -> None:
    paths = PathMap.of(ROOT, "/media/youtube")
    assert paths.to_local("/media/youtube-old/x.mp4") is None
    assert paths.to_local("/data/downloads/x.mp4") is None  # our path is not Plex's
    assert paths.owner_of("/media/movies/Heat.mkv") is None
    assert paths.owner_of("/media/youtube/not-a-user/x.mp4") is None
    assert paths.to_local("/media/youtube/../etc/passwd") is None


def test_a_windows_plex_gets_backslashes_and_compares_without_case() -> None:
    paths = PathMap.of(ROOT, "D:\\Media\\YouTube")
    assert paths.to_plex(ROOT / str(USER) / "Mix") == f"D:\\Media\\YouTube\\{USER}\\Mix"
    assert (
        paths.to_local(f"d:\\media\\youtube\\{USER}\\Mix\\A.mp4") == ROOT / str(USER) / "Mix/A.mp4"
    )
    assert paths.holds_root("D:\\Media")
    assert not paths.holds_root("/media")
    assert not paths.holds_root("E:\\Media")


def test_a_windows_share_is_a_root_of_its_own() -> None:
    paths = PathMap.of(ROOT, "\\\\nas\\youtube")
    assert paths.to_plex(ROOT / "u") == "\\\\nas\\youtube\\u"
    assert paths.to_local("\\\\NAS\\YouTube\\u\\a.mp4") == ROOT / "u" / "a.mp4"
    assert paths.to_local("\\\\other\\youtube\\u\\a.mp4") is None


def test_within_compares_whole_names() -> None:
    assert plex_within("/media/youtube/a", "/media/youtube")
    assert not plex_within("/media/youtube2/a", "/media/youtube")


@pytest.mark.parametrize("bad", ["", "   ", "media/youtube", "C:relative", "/a/../b", "/a\x00"])
def test_a_plex_path_must_be_absolute(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        check_plex_path(bad)


def test_a_plex_path_is_kept_as_typed() -> None:
    assert check_plex_path("  D:\\Media\\YouTube ") == "D:\\Media\\YouTube"
    assert check_plex_path("/media/youtube") == "/media/youtube"
