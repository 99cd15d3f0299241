"""L11: `medianest restore` checks the whole archive before it writes anything, says
what is wrong in one line (no traceback, never a bare "Aborted."), and a retry with a
good archive then works. The commands run in the test process: what they write and
their exit codes are the subject, not the process (test_backup.py starts the real ones).

Before: a corrupt secrets.json traced back after the database was already copied (and
a retry was refused), a garbage database file was restored silently, a truncated
archive said only "Aborted.", and a planted symlink was refused with a traceback.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from medianest.settings import Settings
from tests.ops.conftest import run_medianest_in_process
from tests.ops.test_backup import back_up, cli_env, restore_target, source_settings  # noqa: F401

DATABASE = "database/medianest.sqlite3"
SECRETS = "settings/secrets.json"


@pytest.fixture
async def good_archive(
    backend: str,
    app_factory: Callable[[Settings], Any],
    source_settings: Settings,  # noqa: F811
    tmp_path: Path,
) -> Path:
    if backend == "postgres":
        pytest.skip("the archive checks of this file are about the SQLite snapshot")
    await app_factory(source_settings)
    archive = tmp_path / "backup.tar.gz"
    back_up(source_settings, archive)
    return archive


def rewritten(archive: Path, target: Path, *, member: str, data: bytes | None = None) -> Path:
    """A copy of `archive` with `member` replaced by `data`, or by a symlink (None)."""
    with tarfile.open(archive, "r:gz") as source, tarfile.open(target, "w:gz") as out:
        for info in source.getmembers():
            if info.name != member:
                out.addfile(info, source.extractfile(info))
                continue
            replacement = tarfile.TarInfo(member)
            if data is None:
                replacement.type, replacement.linkname = tarfile.SYMTYPE, "/etc/passwd"
                out.addfile(replacement)
            else:
                replacement.size = len(data)
                out.addfile(replacement, io.BytesIO(data))
    return target


def refused_cleanly(result: Any, expected: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "Aborted" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    ("member", "data", "expected"),
    [
        (SECRETS, b'{"encryption_key": ', "secrets.json in the archive is not valid JSON"),
        (SECRETS, b'["a list"]', "not a JSON object"),
        (DATABASE, b"garbage, not a database" * 100, "not a SQLite database"),
        (DATABASE, None, "not a regular file"),  # a planted symlink
    ],
    ids=["corrupt-secrets", "secrets-not-an-object", "garbage-database", "symlink"],
)
async def test_a_bad_archive_is_refused_before_anything_is_written_and_a_retry_works(
    good_archive: Path,
    restore_target: Settings,  # noqa: F811
    tmp_path: Path,
    member: str,
    data: bytes | None,
    expected: str,
) -> None:
    bad = rewritten(good_archive, tmp_path / "bad.tar.gz", member=member, data=data)
    env = cli_env(restore_target)

    refused_cleanly(run_medianest_in_process("restore", str(bad), env=env), expected)
    data_dir = restore_target.data_dir
    assert not data_dir.exists() or [p.name for p in data_dir.iterdir()] == []

    retry = run_medianest_in_process("restore", str(good_archive), env=env)
    assert retry.returncode == 0, retry.stderr
    assert (data_dir / "medianest.db").stat().st_size > 0


async def test_a_truncated_archive_says_so_instead_of_aborted(
    good_archive: Path,
    restore_target: Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    whole = good_archive.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(whole[: len(whole) * 2 // 3])

    refused_cleanly(
        run_medianest_in_process("restore", str(truncated), env=cli_env(restore_target)),
        "truncated",
    )
    retry = run_medianest_in_process("restore", str(good_archive), env=cli_env(restore_target))
    assert retry.returncode == 0, retry.stderr
