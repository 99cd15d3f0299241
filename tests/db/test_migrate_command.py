"""`medianest migrate REVISION`, as an operator types it: to that revision, not past it,
and an unknown one refused in one line (a real `python -m medianest` process)."""

from __future__ import annotations

from pathlib import Path

from medianest.db import migrate
from tests.db.test_concurrent_migrations import _start_migrate, _versions


def _migrate(url: str, data_dir: Path, *arguments: str) -> tuple[int, str, str]:
    process = _start_migrate(url, data_dir, arguments=arguments)
    out, err = process.communicate(timeout=180)
    return process.returncode, out, err


def test_migrating_to_a_named_revision_stops_there_and_says_so(empty_database, tmp_path):
    url, _ = empty_database
    code, out, err = _migrate(url, tmp_path / "data", "rd_1")
    assert (code, out.strip()) == (0, "database at rd_1"), err
    assert _versions(url) == ["rd_1"]  # was the head: the revision was ignored
    code, out, err = _migrate(url, tmp_path / "data")
    assert (code, out.strip()) == (0, "database at head"), err
    assert _versions(url) == [migrate.HEAD_REVISION]


def test_an_unknown_revision_is_one_clear_line_and_changes_nothing(empty_database, tmp_path):
    url, _ = empty_database
    migrate.upgrade(url, "rd_1")
    for arguments in (("no_such_rev",), ("no_such_rev", "--down")):
        code, out, err = _migrate(url, tmp_path / "data", *arguments)
        assert code == 2, (arguments, out, err)
        assert err.strip().splitlines() == [
            "medianest: unknown revision 'no_such_rev': this MediaNest's migrations do not include it"
        ], err
        assert "Traceback" not in err
    assert _versions(url) == ["rd_1"]
