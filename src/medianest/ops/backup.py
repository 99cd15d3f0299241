"""`medianest backup` / `medianest restore`: the database and the settings in one archive.

The archive (tar.gz, mode 0600: it holds the encryption key next to the data it
protects) contains `manifest.json`, the database snapshot under `database/`, the
secrets file under `settings/secrets.json` (when secrets live in a file) and the
non-secret settings under `settings/settings.json` for reference. The snapshot is read
back (every table's rows counted) before it is kept, and the manifest records its
SHA-256. Restore only goes into an empty data dir and an empty database, so it never
overwrites live data, and checks the whole archive (snapshot readable, checksum, a
migration revision this MediaNest knows) before it writes anything.
Downloaded media are not included: back up the download root with your file backups.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from medianest import __version__
from medianest.core.secrets_store import SECRETS_FILENAME, write_secrets_file
from medianest.db import migrate
from medianest.ops import backup_db, backup_pg
from medianest.ops.backup_db import BackupError, SnapshotContents
from medianest.settings import Settings

ARCHIVE_FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/medianest.sqlite3"
POSTGRES_MEMBER = "database/medianest.pgdump"
SECRETS_MEMBER = "settings/secrets.json"
SETTINGS_MEMBER = "settings/settings.json"
RESTORED_SETTINGS_NAME = "settings-from-backup.json"

__all__ = ["BackupError", "Manifest", "create_backup", "read_manifest", "restore_backup"]


@dataclass(frozen=True)
class Manifest:
    format: int
    medianest_version: str
    alembic_revision: str | None
    database: str  # "sqlite" | "postgresql"
    created_at: str
    secrets: str  # "included" | "environment"
    # SHA-256 of the database member; archives made before it was recorded have none.
    database_sha256: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        optional = {"database_sha256"}
        try:
            return cls(
                **{
                    name: data[name]
                    for name in cls.__dataclass_fields__
                    if name in data or name not in optional
                }
            )
        except (KeyError, TypeError) as exc:
            raise BackupError(f"the archive's manifest is incomplete ({exc})") from None


def default_archive_name(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"medianest-backup-{stamp}.tar.gz"


def _secrets_path(settings: Settings) -> Path:
    return settings.secrets_file or settings.data_dir / SECRETS_FILENAME


def _masked_url(url: str | None) -> str | None:
    if not url:
        return url
    return make_url(url).render_as_string(hide_password=True)


def public_settings(settings: Settings) -> dict[str, Any]:
    """The settings without secrets (SecretStr values dropped, URL passwords masked)."""
    values: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) or (
            isinstance(value, list) and any(isinstance(v, SecretStr) for v in value)
        ):
            continue
        values[name] = value
    values["database_url"] = _masked_url(settings.database_url)
    values["redis_url"] = _masked_url(settings.redis_url)
    return json.loads(json.dumps(values, default=str))  # type: ignore[no-any-return]


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


def create_backup(settings: Settings, output: Path) -> tuple[Manifest, SnapshotContents]:
    """Write one archive with a consistent database snapshot and the settings; returns
    the manifest and what the snapshot was read back to hold."""
    if output.exists():
        raise BackupError(f"{output} already exists; choose another --output")
    with tempfile.TemporaryDirectory(prefix="medianest-backup-") as scratch:
        # Each raises unless its snapshot reads back whole with the database's row counts.
        if settings.is_sqlite:
            snapshot = Path(scratch) / "medianest.sqlite3"
            contents = backup_db.snapshot_sqlite(settings.resolved_database_url, snapshot)
            kind, member = "sqlite", SQLITE_MEMBER
        else:
            snapshot = Path(scratch) / "medianest.pgdump"
            contents = backup_pg.snapshot_postgres(settings.resolved_database_url, snapshot)
            kind, member = "postgresql", POSTGRES_MEMBER
        revision = contents.revision
        secrets_file = _secrets_path(settings)
        manifest = Manifest(
            format=ARCHIVE_FORMAT,
            medianest_version=__version__,
            alembic_revision=revision,
            database=kind,
            created_at=datetime.now(UTC).isoformat(),
            secrets="included" if secrets_file.exists() else "environment",
            database_sha256=_sha256(snapshot),
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 before anything is written into it.
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            _add_bytes(archive, MANIFEST, json.dumps(manifest.__dict__, indent=2).encode())
            archive.add(snapshot, arcname=member)
            if secrets_file.exists():
                _add_bytes(archive, SECRETS_MEMBER, secrets_file.read_bytes())
            _add_bytes(
                archive, SETTINGS_MEMBER, json.dumps(public_settings(settings), indent=2).encode()
            )
    return manifest, contents


def checked(manifest: Manifest, contents: SnapshotContents) -> list[str]:
    """What `create_backup` verified, in two lines for the operator."""
    # Both were verified, or create_backup had raised: pg_restore read the whole dump;
    # SQLite's integrity check passed on the copy.
    source = (
        "the dump (pg_restore)"
        if manifest.database == "postgresql"
        else "the copy (integrity_check ok)"
    )
    return [
        f"checked: {len(contents.rows)} tables, {sum(contents.rows.values()):,} rows read back "
        f"from {source}, each table's count equal to the database's",
        f"sha256 {manifest.database_sha256} (in the manifest; restore checks it)",
    ]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _member_bytes(archive: tarfile.TarFile, name: str) -> bytes | None:
    # Only named regular files are read: nothing in the archive chooses a path on disk.
    try:
        info = archive.getmember(name)
    except KeyError:
        return None
    handle = archive.extractfile(info) if info.isfile() else None
    if handle is None:
        raise BackupError(f"{name} in the archive is not a regular file")
    return handle.read()


def read_manifest(archive_path: Path) -> Manifest:
    with _open_archive(archive_path) as archive:
        data = _member_bytes(archive, MANIFEST)
    return _manifest(archive_path, data)


def _manifest(archive_path: Path, data: bytes | None) -> Manifest:
    if data is None:
        raise BackupError(f"{archive_path} has no {MANIFEST}")
    try:
        manifest = Manifest.from_json(json.loads(data))
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{archive_path}: {MANIFEST} is not a MediaNest manifest") from None
    if manifest.format != ARCHIVE_FORMAT:
        raise BackupError(f"unsupported backup format {manifest.format}")
    return manifest


@contextlib.contextmanager
def _open_archive(archive_path: Path) -> Iterator[tarfile.TarFile]:
    """The archive, with every way it can be unreadable (missing, not gzip, truncated —
    gzip says EOFError, which the command line took for "Aborted.") as a BackupError."""
    try:
        with tarfile.open(archive_path, mode="r:gz") as archive:
            yield archive
    except BackupError:
        raise
    except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
        reason = "it is truncated" if isinstance(exc, EOFError) else str(exc) or type(exc).__name__
        raise BackupError(f"{archive_path} is not a MediaNest backup ({reason})") from None


def _secrets_values(data: bytes) -> dict[str, str]:
    try:
        values = json.loads(data)
    except ValueError:
        raise BackupError(f"{SECRETS_MEMBER} in the archive is not valid JSON") from None
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        raise BackupError(f"{SECRETS_MEMBER} in the archive is not a JSON object of strings")
    if "encryption_key" not in values:
        raise BackupError(f"{SECRETS_MEMBER} in the archive has no encryption_key")
    return values


def _is_log_file(path: Path, settings: Settings) -> bool:
    # `medianest` opens its log file before the restore starts; that does not count.
    log_file = settings.log_file
    return log_file is not None and path.name.startswith(log_file.name)


def _ensure_empty_data_dir(settings: Settings) -> None:
    data_dir = settings.data_dir
    if not data_dir.exists():
        return
    if not data_dir.is_dir():
        raise BackupError(f"{data_dir} is not a directory")
    leftovers = [p for p in data_dir.iterdir() if not _is_log_file(p, settings)]
    if leftovers:
        raise BackupError(
            f"refusing to restore into {data_dir}: it is not empty ({leftovers[0].name} ...)"
        )


def _restore_secrets(settings: Settings, values: dict[str, str]) -> Path:
    configured = settings.secrets_file
    if configured is not None and configured.exists():
        if json.loads(configured.read_text(encoding="utf-8")) == values:
            return configured
        # A configured file differs (e.g. a fresh Docker secret): keep both, let the operator pick.
        target = settings.data_dir / "secrets-from-backup.json"
    else:
        target = configured or settings.data_dir / SECRETS_FILENAME
    write_secrets_file(target, {str(k): str(v) for k, v in values.items()})
    return target


def _check_revision(revision: str | None) -> None:
    """The snapshot's own revision (not the manifest's word) must be one this code knows:
    `serve` cannot start on a database a newer MediaNest migrated."""
    if revision is None:
        raise BackupError("the database in the archive is not a MediaNest database (no revision)")
    if not migrate.is_known_revision(revision):
        raise BackupError(
            f"the archive comes from a newer MediaNest (database revision {revision} is unknown "
            f"to MediaNest {__version__}): upgrade MediaNest, then restore"
        )


def _check_snapshot(manifest: Manifest, snapshot: Path) -> None:
    """The whole snapshot is readable, is ours, matches its checksum, and is at a
    revision this code knows; raises BackupError before anything is written."""
    if manifest.database == "sqlite":
        revision = backup_db.read_snapshot(snapshot).revision
    else:
        revision = backup_pg.read_dump(snapshot).revision
    if manifest.database_sha256 is not None and _sha256(snapshot) != manifest.database_sha256:
        # pg_restore reads some damaged dumps without complaint (a flipped byte in a
        # table's definition): the checksum taken when the backup was made does not.
        raise BackupError(
            "the database in the archive is damaged: its SHA-256 differs from the one "
            "recorded when the backup was made"
        )
    _check_revision(revision)


def _ensure_empty_database(settings: Settings, kind: str) -> None:
    url = settings.resolved_database_url
    if kind == "sqlite":
        target = backup_db.sqlite_path(url)
        if target.exists() and target.stat().st_size > 0:
            raise BackupError(f"refusing to overwrite the existing database {target}")
    elif not backup_pg.postgres_is_empty(url):
        raise BackupError("refusing to restore into a PostgreSQL database that already has tables")


def restore_backup(settings: Settings, archive_path: Path) -> tuple[Manifest, list[str]]:
    """Restore into an empty data dir and database; returns the manifest and notes."""
    manifest = read_manifest(archive_path)
    configured_kind = "sqlite" if settings.is_sqlite else "postgresql"
    if manifest.database != configured_kind:
        raise BackupError(
            f"the archive holds a {manifest.database} database but MediaNest is configured "
            f"for {configured_kind}"
        )
    _ensure_empty_data_dir(settings)
    # Everything is read and checked before anything is written, so a refused archive
    # leaves the data dir and the database as they were and a retry can run.
    with _open_archive(archive_path) as archive:
        member = SQLITE_MEMBER if manifest.database == "sqlite" else POSTGRES_MEMBER
        snapshot_bytes = _member_bytes(archive, member)
        secrets = _member_bytes(archive, SECRETS_MEMBER)
        public = _member_bytes(archive, SETTINGS_MEMBER)
    if snapshot_bytes is None:
        raise BackupError(f"the archive has no {member}")
    secret_values = _secrets_values(secrets) if secrets is not None else None
    with tempfile.TemporaryDirectory(prefix="medianest-restore-") as scratch:
        snapshot = Path(scratch) / Path(member).name
        snapshot.write_bytes(snapshot_bytes)
        _check_snapshot(manifest, snapshot)
        _ensure_empty_database(settings, manifest.database)
        if manifest.database == "sqlite":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            backup_db.restore_sqlite(snapshot, settings.resolved_database_url)
        else:
            # One transaction: the data dir is made only once the database is in.
            backup_pg.restore_postgres(snapshot, settings.resolved_database_url)
            settings.data_dir.mkdir(parents=True, exist_ok=True)
    return manifest, _restore_settings(settings, secret_values, public)


def _restore_settings(
    settings: Settings, secret_values: dict[str, str] | None, public: bytes | None
) -> list[str]:
    notes: list[str] = []
    if secret_values is not None:
        target = _restore_secrets(settings, secret_values)
        notes.append(f"secrets restored to {target}")
    else:
        notes.append("the archive holds no secrets: keep the same MEDIANEST_ENCRYPTION_KEY")
    if public is not None:
        (settings.data_dir / RESTORED_SETTINGS_NAME).write_bytes(public)
        notes.append(f"the old settings (no secrets) are in {RESTORED_SETTINGS_NAME}")
    return notes
