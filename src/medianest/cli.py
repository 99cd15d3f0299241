"""The `medianest` command: serve | worker | migrate | generate-secrets | demo | backup | restore.

Built on click, which uvicorn loads anyway: typer on top of it cost `serve` 1.3 MB of
resident memory for nine commands (docs/performance.md)."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
import uvicorn

from medianest import __version__
from medianest.core.imports import kept_for_good
from medianest.core.logging import configure_logging, get_logger
from medianest.core.private_files import protect_data_dir, protect_sqlite_files
from medianest.core.secrets_store import generate_secrets, write_secrets_file
from medianest.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from medianest.app import MediaNestApp


@click.group(name="medianest", no_args_is_help=True)
def app() -> None:
    """MediaNest: one sign-in for Plex, Overseerr, Uptime Kuma and YouTube downloads."""


log = get_logger("medianest.cli")

# How long an idle client connection stays open: longer than a proxy in front keeps its
# idle upstream connections (deploy/nginx says 60 s). A client that reuses a connection
# in the instant the server closes it gets a reset, which nginx retries but Node's and
# most scripts' HTTP clients do not; uvicorn's default is 5 s.
KEEP_ALIVE_SECONDS = 75
# What every server the command starts (`serve`, `serve --reload`, `demo`) and the tests'
# served apps share: MediaNest logs requests itself (core/logging.py).
SERVED_OPTIONS: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    # The standard library's event loop: saturated, uvloop served some connections many
    # turns after others (a tail of slow answers); asyncio's serves them in turn, at
    # nearly the same rate (docs/performance.md, "The slowest answers").
    "loop": "asyncio",
}


def fail(reason: str, code: int = 2) -> NoReturn:
    click.echo(f"medianest: {reason}", err=True)
    raise SystemExit(code)


def settings_for_command(**overrides: object) -> Settings:
    """The settings (the environment's, then `overrides` not None), with logging set up as
    every command sets it up; a clear message and exit 2 when they are wrong."""
    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        fail(str(exc))
    configure_logging(
        level=settings.log_level,
        fmt=settings.log_format,
        log_file=settings.log_file,
        max_bytes=settings.log_file_max_bytes,
        backups=settings.log_file_backups,
    )
    return settings


def prepare_database(settings: Settings, engine: AsyncEngine | None = None) -> bool:
    """Create the data dir and apply migrations, or stop with one line saying why; True
    when migrations ran. The check reads through `engine` when given."""
    from medianest.db import migrate
    from medianest.db.engine import failure_line

    protect_data_dir(settings.data_dir, download_root=settings.resolved_download_root)
    protect_sqlite_files(settings.resolved_database_url)
    try:
        timeout = settings.migration_lock_timeout_seconds
        url = settings.resolved_database_url
        return asyncio.run(migrate.upgrade_if_needed(url, engine, lock_timeout=timeout))
    except Exception as exc:  # any failure here is the operator's to fix; say it in one line
        fail(f"cannot use the database ({type(exc).__name__}): {failure_line(exc)}")


def _check_redis(settings: Settings) -> None:
    if not settings.redis_url:
        return
    import redis

    try:
        redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3).ping()
    except (redis.RedisError, OSError) as exc:
        fail(f"cannot reach Redis at the configured MEDIANEST_REDIS_URL: {exc}")


def browser_url(settings: Settings) -> str:
    """Where a browser on this machine reaches the portal (0.0.0.0 and :: are not)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def welcome_line(settings: Settings, *, first_sign_in: bool) -> str:
    """The one line a person starting `serve` in a terminal needs: where to go, as whom."""
    url = browser_url(settings)
    if not first_sign_in:
        return f"MediaNest is running: open {url} and sign in."
    password = settings.admin_password.get_secret_value()
    if password == "admin":  # noqa: S105  (the documented first password, not a secret)
        who = f"sign in as {settings.admin_username} / admin"
    else:
        who = f"sign in as {settings.admin_username} with MEDIANEST_ADMIN_PASSWORD"
    return f"MediaNest is running: open {url} and {who} (you will choose a new password)."


def _first_sign_in_pending(settings: Settings, engine: AsyncEngine) -> bool:
    from medianest.auth import service as auth_service
    from medianest.db.engine import create_session_factory, session_scope

    async def check() -> bool:
        try:
            async with session_scope(create_session_factory(engine)) as session:
                return await auth_service.bootstrap_sign_in_pending(session, settings=settings)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(check())
    except Exception:  # only a hint for the welcome line: never stop serving over it
        log.warning("first_sign_in_check_failed", exc_info=True)
        return False


def start_serving(settings: Settings) -> MediaNestApp:
    """Everything `serve` does before it listens: the database at the head, Redis
    reachable, the welcome line, the app built. What start-up makes lives as long as the
    process, so it is kept frozen (`kept_for_good`; the app's own start-up freezes what
    it adds, `freeze_heap`). No full collection first, except after a migration: the
    young ones leave next to nothing to free (tests/cli/test_serve_imports.py counts it)."""
    with kept_for_good():
        engine = _check_services(settings)
        from medianest.app import create_app

        return create_app(
            settings, run_migrations=False, freeze_heap=True, watch_loop=True, engine=engine
        )


def _check_services(settings: Settings) -> AsyncEngine:
    """The database at the head, Redis reachable, the welcome line. Both database checks
    go through the engine the app then keeps, so its dialect is set up once, not three
    times (~3 ms of a restart on PostgreSQL)."""
    from medianest.db.engine import create_engine

    engine = create_engine(
        settings.resolved_database_url, pool_timeout=settings.database_pool_timeout_seconds
    )
    if prepare_database(settings, engine):
        gc.collect()  # what Alembic left, before the freeze would keep it for good
    _check_redis(settings)
    log.info("serving", url=f"http://{settings.host}:{settings.port}")
    first_sign_in = _first_sign_in_pending(settings, engine)
    click.echo(welcome_line(settings, first_sign_in=first_sign_in), err=True)
    return engine


def build_app_from_env() -> object:
    """Factory used by `--reload` (uvicorn re-imports it in a fresh process)."""
    from medianest.app import create_app

    return create_app(settings_for_command(), run_migrations=False)


@app.command()
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str | None, port: int | None, reload: bool) -> None:
    """Start the portal (migrations are applied first)."""
    settings = settings_for_command(host=host, port=port)
    if reload:
        _check_services(settings)
        uvicorn.run(
            "medianest.cli:build_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            reload=True,
            server_header=False,
            **SERVED_OPTIONS,
        )
        return
    uvicorn.run(
        start_serving(settings),
        host=settings.host,
        port=settings.port,
        server_header=False,  # no "server: uvicorn": nothing to fingerprint
        **SERVED_OPTIONS,
        proxy_headers=True,
        forwarded_allow_ips=",".join(settings.trusted_proxies),
        ws="websockets-sansio",
    )


@app.command()
def worker() -> None:
    """Run YouTube download workers in this process (set MEDIANEST_RUN_WORKER_IN_PROCESS=false
    for `serve` then; with Redis, progress still reaches browsers live)."""
    import asyncio

    from medianest.worker import run_standalone

    settings = settings_for_command()
    prepare_database(settings)
    _check_redis(settings)
    log.info("worker_starting", concurrency=settings.worker_concurrency)
    asyncio.run(run_standalone(settings))


@app.command("worker-health")
def worker_health() -> None:
    """Exit 0 when this container's download worker beat within MEDIANEST_WORKER_STALE_SECONDS
    (its loop alive, no error); 1 otherwise. The compose worker's healthcheck."""
    from medianest.youtube.jobs.heartbeat import file_is_fresh, heartbeat_file

    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc))
    if not file_is_fresh(heartbeat_file(), max_age_seconds=settings.worker_stale_seconds):
        click.echo("no recent download worker heartbeat", err=True)
        raise SystemExit(1)
    click.echo("worker alive")


@app.command()
@click.argument("revision", default="head")
@click.option("--down", is_flag=True, help="Downgrade to the revision instead.")
def migrate(revision: str, down: bool) -> None:
    """Apply (or revert) database migrations: to REVISION, the head by default.

    Safe beside other MediaNest processes starting on the same database: one migrates
    at a time, the others wait (MEDIANEST_MIGRATION_LOCK_TIMEOUT_SECONDS) and then find
    the work done (docs/operations.md, Upgrades)."""
    settings = settings_for_command()
    from medianest.db import migrate as migrations
    from medianest.db.engine import failure_line

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if revision == "head" and not down:
        prepare_database(settings)
        click.echo("database at head")
        return
    # A named revision, either way: an unknown one is refused in one line, not by
    # Alembic's traceback; an upgrade goes to it, not past it to the head.
    if revision not in ("head", "base") and not migrations.is_known_revision(revision):
        fail(f"unknown revision {revision!r}: this MediaNest's migrations do not include it")
    move = migrations.downgrade if down else migrations.upgrade
    try:
        move(settings.resolved_database_url, revision, settings.migration_lock_timeout_seconds)
    except Exception as exc:  # the operator's to fix: one line, as prepare_database says it
        fail(f"cannot migrate the database ({type(exc).__name__}): {failure_line(exc)}")
    click.echo(f"database at {revision}")


@app.command("generate-secrets")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write to this file (0600).")
def generate_secrets_command(output: Path | None) -> None:
    """Print (or write to a 0600 file) a fresh encryption key, session secret and web-push
    (VAPID) private key."""
    values = generate_secrets()
    if output is None:
        for key, value in values.items():
            click.echo(f"MEDIANEST_{key.upper()}={value}")
        return
    write_secrets_file(output, values)
    click.echo(f"wrote {output} (mode 0600); set MEDIANEST_SECRETS_FILE={output}")


@app.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="Archive to write (default: ./medianest-backup-<UTC time>.tar.gz).",
)
def backup(output: Path | None) -> None:
    """Write the database (consistent snapshot) and the settings into one 0600 archive."""
    from medianest.ops import backup as backups

    settings = settings_for_command()
    target = output or Path(backups.default_archive_name())
    try:
        manifest, contents = backups.create_backup(settings, target)
    except backups.BackupError as exc:
        from medianest.notifications import checks  # like `backups`: only this command

        checks.record_backup_failure(settings, str(exc))
        fail(str(exc))
    click.echo(
        f"wrote {target} ({manifest.database}, revision {manifest.alembic_revision}, "
        f"secrets {manifest.secrets})"
    )
    for line in backups.checked(manifest, contents):
        click.echo(line)


@app.command()
@click.argument("archive", type=click.Path(path_type=Path))
def restore(archive: Path) -> None:
    """Restore ARCHIVE, written by `medianest backup`, into an EMPTY data dir and database
    (never over live data)."""
    from medianest.ops import backup as backups

    settings = settings_for_command()
    try:
        manifest, notes = backups.restore_backup(settings, archive)
    except backups.BackupError as exc:
        fail(str(exc))
    except OSError as exc:  # a path the restore cannot write (a planted link, no space)
        fail(f"restore failed: {exc}")
    click.echo(
        f"restored {manifest.database} database from {manifest.created_at} "
        f"(revision {manifest.alembic_revision}); `medianest serve` applies newer migrations"
    )
    for note in notes:
        click.echo(note)


@app.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port of the portal.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    help="The demo's own data dir (default ./data-demo).",
)
def demo(host: str, port: int, data_dir: Path | None) -> None:
    """Start the portal with simulated Plex, plex.tv, Overseerr and Uptime Kuma (see README)."""
    from medianest import demo as demo_mode
    from medianest.app import create_app
    from medianest_simulators.suite import SimulatorSuite

    root = (data_dir or demo_mode.DEFAULT_DATA_DIR).resolve()
    (root / "youtube").mkdir(parents=True, exist_ok=True)
    suite = SimulatorSuite(youtube_dir=root / "youtube").start()
    demo_mode.bring_to_life(suite)
    try:
        overrides = demo_mode.demo_overrides(suite.info, data_dir=root, host=host, port=port)
        settings = settings_for_command(**overrides)
        prepare_database(settings)
        demo_mode.prepare_demo(settings, suite.info)
        demo_mode.connect_webhook(suite, settings)
        click.echo(demo_mode.banner(settings, suite.info), err=True)
        uvicorn.run(
            create_app(settings, run_migrations=False),
            host=settings.host,
            port=settings.port,
            ws="websockets-sansio",
            **SERVED_OPTIONS,
        )
    finally:
        suite.stop()


@app.command()
def version() -> None:
    """Print the version."""
    click.echo(json.dumps({"medianest": __version__}))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
