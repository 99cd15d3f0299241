"""pg_restore quotes what it could not read from a damaged dump on stderr, bytes that are
not UTF-8 (CI: `UnicodeDecodeError: 'utf-8' codec can't decode byte 0xcd`, a traceback
instead of "pg_restore failed: ..."). A tool that fails so is refused cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from medianest.ops import backup_pg
from medianest.ops.backup_db import BackupError


def test_a_failing_tool_whose_stderr_is_not_utf8_is_a_clean_backup_error(tmp_path: Path) -> None:
    tool = tmp_path / "pg_restore"
    tool.write_bytes(
        b"#!/bin/sh\nprintf 'pg_restore: error: bad \\315\\377 block\\n' >&2\nexit 1\n"
    )
    tool.chmod(0o755)
    with pytest.raises(BackupError) as refused:
        backup_pg._run([str(tool), "--list", "dump"], {})
    assert str(refused.value).startswith("pg_restore failed: pg_restore: error: bad ")
    assert "\ufffd" in str(refused.value)  # the undecodable bytes, shown as replaced
