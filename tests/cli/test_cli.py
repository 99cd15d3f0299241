"""The command line: bad settings stop with one line, secrets are generated safely."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import httpx

from tests.support.servers import free_port


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    return subprocess.run(
        [sys.executable, "-m", "medianest.cli", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_subcommand_has_help():
    for command in ("serve", "migrate", "generate-secrets"):
        result = run_cli(command, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


def test_unknown_setting_stops_serve_with_one_line(tmp_path):
    result = run_cli("serve", env={"MEDIANEST_DATA_DIR": str(tmp_path), "MEDIANEST_NOPE": "1"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "medianest: unknown setting MEDIANEST_NOPE (see the configuration table in README.md)"
    )


def test_malformed_database_url_stops_serve_with_a_clear_message(tmp_path):
    result = run_cli(
        "serve", env={"MEDIANEST_DATA_DIR": str(tmp_path), "MEDIANEST_DATABASE_URL": "mysql://x"}
    )
    assert result.returncode == 2
    assert "MEDIANEST_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_value_names_the_setting(tmp_path):
    result = run_cli("serve", env={"MEDIANEST_DATA_DIR": str(tmp_path), "MEDIANEST_PORT": "abc"})
    assert result.returncode == 2
    assert "MEDIANEST_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_postgres_stops_serve_without_a_traceback(tmp_path):
    result = run_cli(
        "serve",
        env={
            "MEDIANEST_DATA_DIR": str(tmp_path),
            "MEDIANEST_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        },
    )
    assert result.returncode == 2
    assert "cannot use the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_secrets_prints_or_writes_a_0600_file(tmp_path):
    printed = run_cli("generate-secrets")
    assert printed.returncode == 0
    assert "MEDIANEST_ENCRYPTION_KEY=" in printed.stdout
    target = tmp_path / "secrets.json"
    written = run_cli("generate-secrets", "--output", str(target))
    assert written.returncode == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_serve_on_the_embedded_default_answers_health_and_persists_secrets(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "medianest.cli", "serve", "--port", str(port)],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")},
            "MEDIANEST_DATA_DIR": str(tmp_path / "data"),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert response is not None and response.status_code == 200
        assert response.json()["data"]["checks"]["database"]["status"] == "ok"
        secrets_file = tmp_path / "data" / "secrets.json"
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        assert (tmp_path / "data" / "medianest.db").exists()
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0].decode()
    assert "secrets_generated" in output
    assert "Traceback" not in output
