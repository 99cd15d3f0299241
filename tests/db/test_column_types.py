"""The JSON columns are JSONB on PostgreSQL and JSON on SQLite, though PostgreSQL's
dialect is imported only where PostgreSQL is used (db/base.py)."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from medianest.platform.models import SystemSetting
from medianest.youtube.models import YoutubeDownload


def test_json_columns_are_jsonb_on_postgresql_and_json_on_sqlite() -> None:
    for table in (SystemSetting.__table__, YoutubeDownload.__table__):
        on_postgresql = str(CreateTable(table).compile(dialect=postgresql.dialect()))
        on_sqlite = str(CreateTable(table).compile(dialect=sqlite.dialect()))
        assert " JSONB" in on_postgresql and " JSON" in on_sqlite
        assert " JSONB" not in on_sqlite


def test_the_models_and_the_app_load_without_postgresqls_dialect() -> None:
    code = (
        "import sys, medianest.models, medianest.app; "
        "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy.dialects.postgresql')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr[-2000:]
