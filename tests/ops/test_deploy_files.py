"""The container files agree with each other: what compose mounts, trusts and runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import yaml

from medianest.cli import KEEP_ALIVE_SECONDS

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_nginx_app_worker_postgres_15_and_append_only_redis_7():
    services = compose()["services"]
    assert set(services) == {"nginx", "app", "worker", "db", "redis"}
    assert services["db"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    assert "--appendonly" in services["redis"]["command"]
    assert (
        services["redis"]["command"][services["redis"]["command"].index("--appendonly") + 1]
        == "yes"
    )
    assert services["worker"]["command"] == ["worker"]
    assert services["app"]["command"][:1] == ["serve"]
    assert services["app"]["environment"]["MEDIANEST_RUN_WORKER_IN_PROCESS"] == "false"


def test_compose_mounts_the_tested_nginx_config_and_trusts_only_nginx():
    services = compose()["services"]
    mounts = services["nginx"]["volumes"]
    assert any(m.startswith("./deploy/nginx/medianest.conf:/etc/nginx/conf.d/") for m in mounts)
    nginx_address = services["nginx"]["networks"]["edge"]["ipv4_address"]
    for name in ("app", "worker"):
        trusted = json.loads(services[name]["environment"]["MEDIANEST_TRUSTED_PROXIES"])
        assert trusted == [nginx_address]


def test_compose_gives_secrets_as_files_never_as_values():
    document = compose()
    for name in ("app", "worker"):
        environment = document["services"][name]["environment"]
        assert environment["MEDIANEST_SECRETS_FILE"].startswith("/run/secrets/")
        assert not any(
            key in environment
            for key in (
                "MEDIANEST_ENCRYPTION_KEY",
                "MEDIANEST_SESSION_SECRET",
                "MEDIANEST_DATABASE_URL",
            )
        )
    assert document["services"]["db"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith(
        "/run/secrets/"
    )
    assert set(document["secrets"]) == {"medianest_secrets", "postgres_password"}


def test_dockerfile_is_multi_stage_slim_non_root_with_ffmpeg_and_a_health_check():
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("FROM python:3.11-slim") == 2
    assert "USER 1000:1000" in text
    assert "ffmpeg" in text and "postgresql-client" in text
    health = text.split("HEALTHCHECK", 1)[1].split("ENTRYPOINT", 1)[0]
    assert "/api/health" in health
    assert 'CMD ["serve", "--host", "0.0.0.0"]' in text


def test_image_readme_and_tests_install_with_one_command_from_the_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "RUN ./scripts/install run" in dockerfile
    assert "COPY requirements ./requirements" in dockerfile
    assert "pip install" not in dockerfile
    assert "./scripts/install run" in (ROOT / "scripts" / "serve").read_text()
    assert "./scripts/install test" in (ROOT / "scripts" / "test").read_text()
    install = (ROOT / "scripts" / "install").read_text()
    assert "--require-hashes" in install and "--no-deps" in install


def test_the_install_compiles_medianest_so_the_image_never_compiles_at_start():
    # The image runs with PYTHONDONTWRITEBYTECODE and cannot write /src: bytecode made by
    # the install (in the build stage) is the only bytecode a container will ever have.
    assert "PYTHONDONTWRITEBYTECODE=1" in (ROOT / "Dockerfile").read_text()
    install = (ROOT / "scripts" / "install").read_text()
    assert "-m compileall -q --invalidation-mode checked-hash src" in install
    assert install.index("compileall") > install.index("-e .")


def test_entrypoint_builds_the_database_url_from_the_password_file(tmp_path):
    password_file = tmp_path / "postgres_password"
    password_file.write_text("s3cr3t-hex")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake = fake_bin / "medianest"
    fake.write_text('#!/bin/sh\necho "args=$*"\nenv | grep -E "^(MEDIANEST_|DATABASE_)" | sort\n')
    fake.chmod(0o755)
    result = subprocess.run(
        ["sh", str(ROOT / "deploy" / "docker-entrypoint.sh"), "serve", "--host", "0.0.0.0"],
        env={
            "PATH": f"{fake_bin}:{os.environ['PATH']}",
            "DATABASE_PASSWORD_FILE": str(password_file),
            "DATABASE_HOST": "db",
        },
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "args=serve --host 0.0.0.0"
    assert (
        "MEDIANEST_DATABASE_URL=postgresql+asyncpg://medianest:s3cr3t-hex@db:5432/medianest"
        in lines
    )
    # The helper variables are not passed on (MediaNest refuses unknown settings, and
    # the password file path has no business in the app's environment).
    assert not any(line.startswith("DATABASE_") for line in lines)


def commented_plex_service() -> dict:
    """The example `plex` service, uncommented as a reader would."""
    lines = (ROOT / "docker-compose.yml").read_text().splitlines()
    start = lines.index("  # plex:")
    block = []
    for line in lines[start:]:
        if not line.startswith("  #"):
            break
        block.append(line[len("  # ") :] if line.startswith("  # ") else "")
    return yaml.safe_load("\n".join(block))["plex"]


def test_compose_bind_mounts_downloads_where_the_example_plex_service_reads_them():
    services = compose()["services"]
    for name in ("app", "worker"):
        service = services[name]
        root = service["environment"]["MEDIANEST_DOWNLOAD_ROOT"]
        assert f"./youtube:{root}" in service["volumes"]
        assert service["environment"]["MEDIANEST_DOWNLOAD_GID"] == "${PGID:-1000}"
        assert service["group_add"] == ["${PGID:-1000}"]
    plex = commented_plex_service()
    plex_path = services["app"]["environment"]["MEDIANEST_YOUTUBE_PLEX_PATH"]
    assert f"./youtube:{plex_path}:ro" in plex["volumes"]
    assert plex["environment"]["PGID"] == "${PGID:-1000}"


def test_nginx_lets_an_idle_upstream_connection_go_before_the_app_closes_it():
    # The other way round, nginx may reuse a connection in the instant the app closes it.
    config = (ROOT / "deploy" / "nginx" / "medianest.conf").read_text()
    upstream = re.search(r"upstream medianest_app \{(.*?)\}", config, re.S)
    assert upstream is not None
    timeout = re.search(r"^\s*keepalive_timeout (\d+)s;", upstream.group(1), re.M)
    assert timeout is not None, "the upstream block names its keepalive_timeout"
    assert int(timeout.group(1)) < KEEP_ALIVE_SECONDS
