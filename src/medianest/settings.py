"""Every MEDIANEST_* setting in one place, with defaults for the embedded mode.

Settings come from the environment and an optional `.env` file. Unknown
`MEDIANEST_*` variables and invalid values stop the start with a one-line reason.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENV_PREFIX = "MEDIANEST_"


class SettingsError(ValueError):
    """A setting is unknown or invalid; the message is one line meant for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        case_sensitive=False,
    )

    # Where things live
    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("./data")
    database_url: str | None = None
    # A request waits this long for a free database connection, then gets 503 SERVICE_BUSY.
    database_pool_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    redis_url: str | None = None
    download_root: Path | None = None
    secrets_file: Path | None = None

    # Serving
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    run_worker_in_process: bool = True
    # Larger request bodies are refused with 413 (JSON and forms are a few KB).
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    # Secrets (generated and persisted under data_dir in the embedded mode when absent)
    encryption_key: SecretStr | None = None
    previous_encryption_keys: list[SecretStr] = Field(default_factory=list)
    session_secret: SecretStr | None = None
    vapid_private_key: SecretStr | None = None  # web push; generated like the others

    # Logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "auto": readable console lines in a terminal, JSON lines otherwise (containers, files).
    log_format: Literal["auto", "json", "console"] = "auto"
    log_file: Path | None = None
    log_file_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    log_file_backups: int = Field(default=5, ge=0)

    # Bootstrap admin and sessions
    admin_username: str = "admin"
    admin_password: SecretStr = SecretStr("admin")
    session_idle_minutes: int = Field(default=60 * 24, ge=1)
    session_absolute_hours: int = Field(default=24 * 14, ge=1)
    remember_me_days: int = Field(default=90, ge=1)
    # Tabs restored at once all send the same remember-me cookie: the same client may
    # reuse a just-rotated token for this long before it counts as stolen.
    remember_me_reuse_grace_seconds: int = Field(default=20, ge=0, le=300)
    plex_token_check_minutes: int = Field(default=60, ge=1)
    # Who may sign in with Plex: the server's owner, Plex Home and friends it is shared
    # with (default), or any Plex account; plus extra usernames. The admin config API
    # (`plexSignIn`, `plexSignInExtraUsernames`) overrides both at run time.
    plex_signin: Literal["server_users", "any_account"] = "server_users"
    plex_signin_extra_usernames: list[str] = Field(default_factory=list)
    # How long plex.tv's list of the server's users is trusted; the sweep that signs
    # out removed users runs this often.
    plex_audience_refresh_seconds: float = Field(default=300.0, gt=0)
    # Resolved sessions are kept in memory this long (0 turns the cache off); changes
    # invalidate them at once, see auth/session_cache.py.
    session_cache_seconds: float = Field(default=30, ge=0, le=300)
    # How often expired sessions and remember-me tokens are deleted.
    session_purge_interval_seconds: float = Field(default=3600.0, gt=0)

    # Rate limits (per user; the admin config API can change them at run time)
    rate_limit_api_per_minute: int = Field(default=100, ge=1)
    rate_limit_youtube_per_hour: int = Field(default=5, ge=1)
    rate_limit_requests_per_hour: int = Field(default=20, ge=1)
    rate_limit_login_failures: int = Field(default=10, ge=1)
    rate_limit_login_window_minutes: int = Field(default=15, ge=1)

    # External services (base URLs are settings so tests can point at simulators)
    plex_tv_url: str = "https://plex.tv"
    plex_app_url: str = "https://app.plex.tv"
    plex_url: str | None = None
    plex_token: SecretStr | None = None
    overseerr_url: str | None = None
    overseerr_api_key: SecretStr | None = None
    overseerr_webhook_secret: SecretStr | None = None
    request_sync_interval_seconds: float = Field(default=300.0, gt=0)
    plex_library_cache_seconds: float = Field(default=600.0, gt=0)
    uptime_kuma_url: str | None = None
    uptime_kuma_api_key: SecretStr | None = None
    uptime_kuma_status_page: str | None = None
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    http_retry_attempts: int = Field(default=3, ge=1)
    http_retry_initial_seconds: float = Field(default=1.0, ge=0)
    breaker_min_volume: int = Field(default=5, ge=1)
    breaker_reset_seconds: float = Field(default=30.0, gt=0)

    # Dashboard
    health_check_interval_seconds: float = Field(default=30.0, gt=0)
    health_check_timeout_seconds: float = Field(default=3.0, gt=0)

    # YouTube downloads
    youtube_extra_hosts: str = ""
    youtube_library_section: str | None = None
    # The download root as Plex sees it (its own mount, or a Windows path); None: ours.
    youtube_plex_path: str | None = None
    # The group Plex runs with: downloads are 2750/0640 and owned by it (None: our own).
    download_gid: int | None = Field(default=None, ge=0)
    worker_concurrency: int = Field(default=2, ge=1)
    worker_per_user_concurrency: int = Field(default=1, ge=1)
    download_max_attempts: int = Field(default=3, ge=1)
    download_min_free_bytes: int = Field(default=2 * 1024**3, ge=0)
    default_download_quality: Literal["best", "1080p", "720p", "audio"] = "best"
    worker_heartbeat_seconds: float = Field(default=10.0, gt=0)
    worker_stale_seconds: float = Field(default=60.0, gt=0)
    worker_poll_seconds: float = Field(default=15.0, gt=0)
    download_retry_base_seconds: float = Field(default=30.0, ge=0)
    plex_scan_wait_seconds: float = Field(default=60.0, ge=0)

    # YouTube subscriptions and pushback (the queue breaker)
    youtube_max_subscriptions_per_user: int = Field(default=20, ge=1)
    subscription_poll_seconds: float = Field(default=60.0, gt=0)
    subscription_claim_seconds: float = Field(default=900.0, gt=0)
    youtube_breaker_threshold: int = Field(default=5, ge=1)
    youtube_breaker_window_seconds: float = Field(default=600.0, gt=0)
    youtube_breaker_backoff_seconds: float = Field(default=300.0, ge=0)

    # Notifications (delivery worker, retries, who may send to private addresses)
    run_notification_worker: bool = True
    notification_poll_seconds: float = Field(default=1.0, gt=0)
    notification_max_attempts: int = Field(default=10, ge=1)
    notification_retry_base_seconds: float = Field(default=5.0, ge=0)
    notification_retry_max_seconds: float = Field(default=3600.0, ge=0)
    notifications_allow_private_hosts: bool = False
    vapid_subject: str = "mailto:admin@medianest.invalid"

    # Operations
    metrics_token: SecretStr | None = None

    @field_validator("plex_tv_url", "plex_app_url", "plex_url", "overseerr_url", "uptime_kuma_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None if value == "" else value
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError("is not a valid database URL") from exc
        if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError(
                f"must use sqlite+aiosqlite:// or postgresql+asyncpg:// (got {url.drivername}://)"
            )
        return value

    @field_validator("youtube_plex_path")
    @classmethod
    def _plex_path(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        text = value.strip()
        if not (text.startswith("/") or re.match(r"^([A-Za-z]:[\\/]|\\\\)", text)):
            raise ValueError(r"must be absolute, e.g. /media/youtube or D:\Media\YouTube")
        return text

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _production_secrets(self) -> Settings:
        # The bootstrap admin must change it at first login anyway; in production we
        # still refuse to start with the known password configured explicitly.
        if (
            self.environment == "production"
            and os.environ.get(f"{ENV_PREFIX}ADMIN_PASSWORD") == "admin"
        ):
            raise ValueError("MEDIANEST_ADMIN_PASSWORD must not be 'admin' in production")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'medianest.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_download_root(self) -> Path:
        return (self.download_root or self.data_dir / "downloads").resolve()

    @property
    def youtube_extra_host_list(self) -> list[str]:
        return [h.strip().lower() for h in self.youtube_extra_hosts.split(",") if h.strip()]


def _known_env_names() -> set[str]:
    names = {f"{ENV_PREFIX}{name}".upper() for name in Settings.model_fields}
    return names


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning every problem into one readable line (`SettingsError`)."""
    unknown = sorted(
        key
        for key in os.environ
        if key.upper().startswith(ENV_PREFIX) and key.upper() not in _known_env_names()
    )
    if unknown:
        raise SettingsError(
            f"unknown setting {unknown[0]} (see the configuration table in README.md)"
        )
    try:
        return Settings(**overrides)
    except ValueError as exc:
        raise SettingsError(_first_error_line(exc)) from None


def _first_error_line(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(part) for part in first.get("loc", ()))
        name = f"{ENV_PREFIX}{loc}".upper() if loc else "settings"
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        return f"invalid setting {name}: {message}"
    return f"invalid settings: {exc}"
