"""Where the encryption key, session secret and web-push (VAPID) key come from: settings,
a secrets file, or (embedded mode only) a file generated under the data dir on first start."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from medianest.core.crypto import generate_key, generate_vapid_private_key
from medianest.core.logging import get_logger
from medianest.settings import Settings

log = get_logger(__name__)

SECRETS_FILENAME = "secrets.json"


@dataclass(frozen=True)
class AppSecrets:
    encryption_key: str
    previous_encryption_keys: list[str]
    session_secret: str
    # None only when an operator's own secrets file lacks it: web push is then off.
    vapid_private_key: str | None = None


def generate_secrets() -> dict[str, str]:
    return {
        "encryption_key": generate_key(),
        "session_secret": secrets.token_urlsafe(48),
        "vapid_private_key": generate_vapid_private_key(),
    }


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
    vapid_private_key = (
        settings.vapid_private_key.get_secret_value()
        if settings.vapid_private_key
        else from_file.get("vapid_private_key")
    )
    if not encryption_key or not session_secret or not vapid_private_key:
        if settings.secrets_file is not None:
            if not encryption_key or not session_secret:
                raise ValueError(f"{settings.secrets_file} lacks encryption_key or session_secret")
            log.warning("vapid_key_missing", path=str(settings.secrets_file), web_push="off")
        else:
            generated = generate_secrets()
            encryption_key = encryption_key or generated["encryption_key"]
            session_secret = session_secret or generated["session_secret"]
            vapid_private_key = vapid_private_key or generated["vapid_private_key"]
            # The file gets what it had plus what was generated now, never a value
            # that came from the environment.
            from_settings = {
                "encryption_key": settings.encryption_key is not None,
                "session_secret": settings.session_secret is not None,
                "vapid_private_key": settings.vapid_private_key is not None,
            }
            resolved = {
                "encryption_key": encryption_key,
                "session_secret": session_secret,
                "vapid_private_key": vapid_private_key,
            }
            to_write = dict(from_file)
            for name, value in resolved.items():
                if not from_settings[name]:
                    to_write[name] = value
            write_secrets_file(file_path, to_write)
            log.warning("secrets_generated", path=str(file_path), mode="0600")
    previous = [k.get_secret_value() for k in settings.previous_encryption_keys]
    return AppSecrets(encryption_key, previous, session_secret, vapid_private_key)
