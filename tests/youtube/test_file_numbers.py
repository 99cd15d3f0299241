"""File numbers: a playlist's items by position, a subscription's new items after the
highest number already in the folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medianest.youtube.downloads import files
from medianest.youtube.models import JobItem


def item(index: int, title: str, **extra: Any) -> JobItem:
    return JobItem(index=index, title=title, **extra)


def test_playlist_items_are_numbered_by_position() -> None:
    assert files.stem_for(item(0, "Beach Day")) == "001 - Beach Day"
    assert files.stem_for(item(11, "a/b")) == "012 - a b"


def test_new_items_number_on_after_the_highest_number_in_the_folder(tmp_path: Path) -> None:
    for name in ("001 - Beach Day.mp4", "007 - Kept.mkv", "notes.txt", "12 - short.mp4"):
        (tmp_path / name).write_bytes(b"x")
    fresh = [item(0, "Sunset Ferry"), item(1, "Night Bus")]
    files.number_after_existing(fresh, tmp_path)
    assert [files.stem_for(i) for i in fresh] == ["008 - Sunset Ferry", "009 - Night Bus"]


def test_numbers_once_given_are_kept_when_a_job_resumes(tmp_path: Path) -> None:
    (tmp_path / "008 - Sunset Ferry.mp4").write_bytes(b"x")  # the first item, already done
    resumed = [item(0, "Sunset Ferry", number=8), item(1, "Night Bus", number=9)]
    files.number_after_existing(resumed, tmp_path)
    assert [files.item_number(i) for i in resumed] == [8, 9]


def test_an_empty_or_missing_folder_starts_at_one(tmp_path: Path) -> None:
    fresh = [item(0, "First")]
    files.number_after_existing(fresh, tmp_path / "missing")
    assert files.stem_for(fresh[0]) == "001 - First"
