"""Every MEDIANEST_* setting in one place, with defaults for the embedded mode.

Settings come from the environment and an optional `.env` file. Unknown
`MEDIANEST_*` variables and invalid values stop the start with a one-line reason.
"""

from __future__ import annotations

import os
import re
import ssl
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
    # The kind of installation; `production` refuses MEDIANEST_ADMIN_PASSWORD=admin.
    environment: Literal["development", "production", "test"] = "development"
    # SQLite file, generated secrets, logs and (by default) downloads.
    data_dir: Path = Path("./data")
    # `sqlite+aiosqlite:///...` or `postgresql+asyncpg://...`; unset: SQLite in the data dir.
    database_url: str | None = None
    # A request waits this long for a free database connection, then gets 503 SERVICE_BUSY.
    database_pool_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    # A process starting while another migrates the database waits this long, then exits.
    migration_lock_timeout_seconds: float = Field(default=300.0, gt=0, le=86400)
    # `redis://...`: rate limits, cache and Socket.IO fan-out in Redis, shared by several
    # instances; unset: all in-process (one instance).
    redis_url: str | None = None
    # Where YouTube downloads land; unset: `{data_dir}/downloads`.
    download_root: Path | None = None
    # JSON file with `encryption_key`, `session_secret` and `vapid_private_key` (web push is
    # off without the last); unset: `{data_dir}/secrets.json`.
    secrets_file: Path | None = None

    # Serving
    # Listen address of `medianest serve`.
    host: str = "127.0.0.1"
    # Listen port of `medianest serve`.
    port: int = Field(default=8000, ge=1, le=65535)
    # The URL users reach MediaNest at (Plex forward URLs; an accepted Socket.IO `Origin`).
    public_url: str | None = None
    # Proxies (addresses or networks) whose `X-Forwarded-*` headers are believed; the
    # client is the rightmost `X-Forwarded-For` hop that is not one of them.
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # Run the download workers inside `serve` (`false`: run `medianest worker` apart).
    run_worker_in_process: bool = True
    # Larger request bodies are refused with 413 PAYLOAD_TOO_LARGE, with or without nginx
    # (JSON and forms are a few KB).
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    # Secrets (generated and kept in the data dir's secrets file when absent)
    # 32 bytes, url-safe base64: the AES-256-GCM key of stored secrets.
    encryption_key: SecretStr | None = None
    # JSON list of old keys still accepted for decryption.
    previous_encryption_keys: list[SecretStr] = Field(default_factory=list)
    # Server secret for signed values.
    session_secret: SecretStr | None = None
    # Web-push signing key (P-256 scalar, base64url).
    vapid_private_key: SecretStr | None = None

    # Logging
    # The lowest level written.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "auto": readable console lines in a terminal, JSON lines otherwise (containers, files).
    log_format: Literal["auto", "json", "console"] = "auto"
    # Also write the logs to this file (mode 0600), rotated.
    log_file: Path | None = None
    # The log file is rotated at this size.
    log_file_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Rotated log files kept.
    log_file_backups: int = Field(default=5, ge=0)
    # `serve` logs `event_loop_blocked` (how long, and where) each time synchronous work
    # holds the event loop longer than this, in ms: every request waited meanwhile
    # (0 turns the watch off; core/loop_watch.py).
    event_loop_blocked_ms: float = Field(default=100.0, ge=0)

    # Bootstrap admin and sessions
    # The admin created on an empty database.
    admin_username: str = "admin"
    # That admin's first password, to be changed at the first sign-in.
    admin_password: SecretStr = SecretStr("admin")
    # A session unused this long ends.
    session_idle_minutes: int = Field(default=60 * 24, ge=1)
    # A session ends this long after sign-in.
    session_absolute_hours: int = Field(default=24 * 14, ge=1)
    # Lifetime of a remember-me token.
    remember_me_days: int = Field(default=90, ge=1)
    # Tabs restored at once all send the same remember-me cookie: the same client may
    # reuse a just-rotated token for this long before it counts as stolen.
    remember_me_reuse_grace_seconds: int = Field(default=20, ge=0, le=300)
    # How often a signed-in user's Plex token is re-checked with plex.tv (revoked: signed out).
    plex_token_check_minutes: int = Field(default=60, ge=1)
    # Who may sign in with Plex: the server's owner, Plex Home and friends it is shared
    # with, or any Plex account. The admin config (`plexSignIn`) overrides it at run time.
    plex_signin: Literal["server_users", "any_account"] = "server_users"
    # JSON list of Plex usernames let in besides the server's users (admin config:
    # `plexSignInExtraUsernames`).
    plex_signin_extra_usernames: list[str] = Field(default_factory=list)
    # A Plex user Overseerr has no user for, at their first request: `import` them into
    # Overseerr (its default permissions and quotas apply) or request `as_admin` (the API
    # key's admin: approved at once). The admin config (`overseerrNewPeople`) overrides it.
    overseerr_new_people: Literal["import", "as_admin"] = "import"
    # How long plex.tv's list of the server's users is trusted; the sweep that signs
    # out removed users runs this often.
    plex_audience_refresh_seconds: float = Field(default=300.0, gt=0)
    # Resolved sessions are kept in memory this long (0 turns the cache off); changes
    # invalidate them at once, see auth/sessions/cache.py.
    session_cache_seconds: float = Field(default=30, ge=0, le=300)
    # Answers to signed-in GETs are kept this long at most (0 turns the cache off); a
    # committed change of a table they read drops them at once, see core/response_cache.py.
    response_cache_seconds: float = Field(default=3.0, ge=0, le=60)
    # Memory the kept answers may take, in MB (one answer at most a sixteenth of it).
    response_cache_megabytes: float = Field(default=32.0, ge=0, le=1024)
    # How often expired sessions and remember-me tokens are deleted.
    session_purge_interval_seconds: float = Field(default=3600.0, gt=0)
    # How often open Socket.IO connections are re-checked: a socket whose session reached
    # its idle limit or lifetime is disconnected within this long.
    socket_recheck_seconds: float = Field(default=60.0, gt=0)

    # Rate limits (the admin config API changes the per-user ones at run time)
    # API requests per user per minute.
    rate_limit_api_per_minute: int = Field(default=100, ge=1)
    # YouTube downloads a user may submit per hour.
    rate_limit_youtube_per_hour: int = Field(default=5, ge=1)
    # Media requests per user per hour.
    rate_limit_requests_per_hour: int = Field(default=20, ge=1)
    # Password sign-ins per username and address within the window (the right one counts).
    rate_limit_login_failures: int = Field(default=10, ge=1)
    # The window of those sign-ins.
    rate_limit_login_window_minutes: int = Field(default=15, ge=1)
    # Plex sign-ins started (PINs) per client address in 10 minutes (several people
    # behind one address, a proxy not trusted for X-Forwarded-For, may need more).
    rate_limit_plex_pins: int = Field(default=30, ge=1)

    # External services (base URLs are settings so tests can point at simulators)
    # The plex.tv API.
    plex_tv_url: str = "https://plex.tv"
    # plex.tv's page where a sign-in PIN is approved.
    plex_app_url: str = "https://app.plex.tv"
    # The Plex server; seeds the service configuration on the first start (then the
    # admin page's configuration wins), like every URL and key below.
    plex_url: str | None = None
    # The Plex owner's token.
    plex_token: SecretStr | None = None
    # The Overseerr server.
    overseerr_url: str | None = None
    # Overseerr's API key.
    overseerr_api_key: SecretStr | None = None
    # The `Authorization` value Overseerr's webhook must send, until an admin sets one on
    # the admin page.
    overseerr_webhook_secret: SecretStr | None = None
    # How often open media requests are reconciled with Overseerr (also once at start).
    request_sync_interval_seconds: float = Field(default=300.0, gt=0)
    # How long Plex library data is reused before asking Plex again.
    plex_library_cache_seconds: float = Field(default=600.0, gt=0)
    # The Uptime Kuma server.
    uptime_kuma_url: str | None = None
    # Uptime Kuma's API key (its `/metrics`).
    uptime_kuma_api_key: SecretStr | None = None
    # The slug of a public Kuma status page, read when there is no API key.
    uptime_kuma_status_page: str | None = None
    # Timeout of each outbound try (health checks have their own).
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    # Tries of an idempotent outbound call (exponential backoff with jitter).
    http_retry_attempts: int = Field(default=3, ge=1)
    # The first backoff between those tries (then doubled).
    http_retry_initial_seconds: float = Field(default=1.0, ge=0)
    # Circuit breaker: calls before it may open (when half of the last calls failed).
    breaker_min_volume: int = Field(default=5, ge=1)
    # Circuit breaker: time until an open breaker lets one probe through (half-open).
    breaker_reset_seconds: float = Field(default=30.0, gt=0)
    # A PEM file of certificate authorities trusted besides the public ones, for services
    # behind a home CA or with a self-signed certificate (then that certificate itself).
    ca_bundle: Path | None = None

    # Dashboard
    # How often the status monitor checks Plex, Overseerr and Uptime Kuma.
    health_check_interval_seconds: float = Field(default=30.0, gt=0)
    # The bound of each of those checks.
    health_check_timeout_seconds: float = Field(default=3.0, gt=0)

    # YouTube downloads
    # Comma-separated `host[:port]` added to the YouTube URL allow-list (a local media
    # server: `http` allowed, generic extractor only).
    youtube_extra_hosts: str = ""
    # The JavaScript runtime yt-dlp solves YouTube's challenges with, `RUNTIME[:PATH]` as
    # yt-dlp's --js-runtimes (deno, node, bun, quickjs); unset: the lock's Deno, or where it
    # is missing or too old, the others yt-dlp supports found on PATH, in yt-dlp's order.
    ytdlp_js_runtime: str | None = Field(default=None, pattern=r"^(deno|node|bun|quickjs)(:.+)?$")
    # `ejs:npm`: Deno (or Bun) may fetch the solver's libraries from npm itself; unset: no
    # code from the network. (`ejs:github` is not offered: yt-dlp would fetch it past the
    # allow-list that keeps downloads on YouTube and these hosts.)
    ytdlp_remote_components: str = Field(default="", pattern=r"^(ejs:npm)?$")
    # Plex section id that holds the download root (unset: the one whose folder holds it).
    youtube_library_section: str | None = None
    # The download root as Plex sees it (its own mount, or a Windows path; unset: ours).
    # The admin page's value wins.
    youtube_plex_path: str | None = None
    # The group Plex runs with: downloads are 2750/0640 and owned by it (unset: our own).
    # MediaNest's process must be a member of it (else downloads pause, naming it).
    download_gid: int | None = Field(default=None, ge=0)
    # Downloads running at once, across all processes.
    worker_concurrency: int = Field(default=2, ge=1)
    # Downloads of one user running at once, across all processes.
    worker_per_user_concurrency: int = Field(default=1, ge=1)
    # Attempts before a download is marked failed.
    download_max_attempts: int = Field(default=3, ge=1)
    # Free disk space required before each item (else the job waits: DISK_LOW).
    download_min_free_bytes: int = Field(default=2 * 1024**3, ge=0)
    # The quality of a download that does not choose one.
    default_download_quality: Literal["best", "1080p", "720p", "audio"] = "best"
    # How often a running download (and a separate worker) writes its heartbeat.
    worker_heartbeat_seconds: float = Field(default=10.0, gt=0)
    # A job silent this long is taken over; a worker silent this long makes `/api/health`
    # degraded.
    worker_stale_seconds: float = Field(default=60.0, gt=0)
    # Safety-net poll of the download queue (nudges wake the workers at once).
    worker_poll_seconds: float = Field(default=15.0, gt=0)
    # First retry delay of a failed download (doubled per attempt, at most 1 h).
    download_retry_base_seconds: float = Field(default=30.0, ge=0)
    # How long to wait for Plex to list a finished download before giving up on its
    # collection.
    plex_scan_wait_seconds: float = Field(default=60.0, ge=0)

    # YouTube subscriptions and pushback
    # YouTube subscriptions a user may have.
    youtube_max_subscriptions_per_user: int = Field(default=20, ge=1)
    # How often the scheduler looks for due subscriptions.
    subscription_poll_seconds: float = Field(default=60.0, gt=0)
    # How long a claimed check is held before another scheduler may take it over.
    subscription_claim_seconds: float = Field(default=900.0, gt=0)
    # The queue breaker: bot checks, HTTP 429s and 403s within the window that pause
    # every download.
    youtube_breaker_threshold: int = Field(default=5, ge=1)
    # The window of that count.
    youtube_breaker_window_seconds: float = Field(default=600.0, gt=0)
    # The first pause (doubled for each opening in a row, at most 6 h).
    youtube_breaker_backoff_seconds: float = Field(default=300.0, ge=0)

    # Notifications (delivery worker, retries, who may send to private addresses)
    # Send notifications from this process (each instance claims rows: each sent once).
    run_notification_worker: bool = True
    # How often the notification outbox is checked.
    notification_poll_seconds: float = Field(default=1.0, gt=0)
    # Attempts per channel before a message is marked failed.
    notification_max_attempts: int = Field(default=10, ge=1)
    # First retry delay (doubled, jittered).
    notification_retry_base_seconds: float = Field(default=5.0, ge=0)
    # The longest retry delay.
    notification_retry_max_seconds: float = Field(default=3600.0, ge=0)
    # Let plain users add channels on loopback or private addresses (admins always may).
    notifications_allow_private_hosts: bool = False
    # The contact push services see in VAPID tokens.
    vapid_subject: str = "mailto:admin@medianest.invalid"

    # Operations
    # When set, `/metrics` requires `Authorization: Bearer <token>`; unset, it answers
    # loopback clients only (403 otherwise).
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

    @field_validator("ca_bundle", mode="before")
    @classmethod
    def _ca_bundle(cls, value: Any) -> Any:
        if value is None or not str(value).strip():
            return None
        try:  # refused at the start, not on the first call to a service
            ssl.create_default_context(cafile=str(value))
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"is not a readable PEM file of certificates ({exc})") from None
        return value

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
        raise SettingsError(f"unknown setting {unknown[0]} (see docs/configuration.md)")
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
