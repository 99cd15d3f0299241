"""Where the encryption key and session secret come from: settings, a secrets file, or
(embedded mode only) a file generated under the data dir on first start."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from medianest.core.crypto import generate_key
from medianest.core.logging import get_logger
from medianest.settings import Settings

log = get_logger(__name__)

SECRETS_FILENAME = "secrets.json"


@dataclass(frozen=True)
class AppSecrets:
    encryption_key: str
    previous_encryption_keys: list[str]
    session_secret: str


def generate_secrets() -> dict[str, str]:
    return {"encryption_key": generate_key(), "session_secret": secrets.token_urlsafe(48)}


def write_secrets_file(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(values, handle, indent=2)
    os.chmod(path, 0o600)


def _read_secrets_file(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def load_app_secrets(settings: Settings) -> AppSecrets:
    """Resolve secrets; generate and persist them (0600) when none are configured."""
    from_file: dict[str, str] = {}
    file_path = settings.secrets_file or settings.data_dir / SECRETS_FILENAME
    if file_path.exists():
        from_file = _read_secrets_file(file_path)
    encryption_key = (
        settings.encryption_key.get_secret_value()
        if settings.encryption_key
        else from_file.get("encryption_key")
    )
    session_secret = (
        settings.session_secret.get_secret_value()
        if settings.session_secret
        else from_file.get("session_secret")
    )
    if not encryption_key or not session_secret:
        if settings.secrets_file is not None:
            raise ValueError(f"{settings.secrets_file} lacks encryption_key or session_secret")
        generated = generate_secrets()
        merged = {**generated, **from_file}
        encryption_key = encryption_key or merged["encryption_key"]
        session_secret = session_secret or merged["session_secret"]
        write_secrets_file(
            file_path, {"encryption_key": encryption_key, "session_secret": session_secret}
        )
        log.warning("secrets_generated", path=str(file_path), mode="0600")
    previous = [k.get_secret_value() for k in settings.previous_encryption_keys]
    return AppSecrets(encryption_key, previous, session_secret)
