"""The command line: bad settings stop with one line, secrets are generated safely."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import time

import httpx

from tests.support.cli import invoke_medianest
from tests.support.servers import free_port, wait_for_health


def test_unknown_setting_stops_serve_with_one_line(tmp_path):
    # As a process: the one line is all an operator sees on stderr, before any import
    # of the app could print more.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "medianest.cli", "serve"],
        env={**clean, "MEDIANEST_DATA_DIR": str(tmp_path), "MEDIANEST_NOPE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "medianest: unknown setting MEDIANEST_NOPE (see docs/configuration.md)"
    )


# The other refusals run the same command in this process: a traceback would be raised
# here (invoke_medianest re-raises whatever the command did not turn into an exit code).


def test_malformed_database_url_stops_serve_with_a_clear_message(tmp_path):
    result = invoke_medianest(
        "serve", env={"MEDIANEST_DATA_DIR": str(tmp_path), "MEDIANEST_DATABASE_URL": "mysql://x"}
    )
    assert result.returncode == 2
    assert "MEDIANEST_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_value_names_the_setting(tmp_path):
    result = invoke_medianest(
        "serve", env={"MEDIANEST_DATA_DIR": str(tmp_path), "MEDIANEST_PORT": "abc"}
    )
    assert result.returncode == 2
    assert "MEDIANEST_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_postgres_stops_serve_without_a_traceback(tmp_path):
    result = invoke_medianest(
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
    printed = invoke_medianest("generate-secrets")
    assert printed.returncode == 0
    assert "MEDIANEST_ENCRYPTION_KEY=" in printed.stdout
    # The help says what it prints: every variable it prints (the VAPID key too).
    helped = " ".join(invoke_medianest("generate-secrets", "--help").stdout.split())
    words = {"ENCRYPTION_KEY": "encryption key", "SESSION_SECRET": "session secret"}
    words["VAPID_PRIVATE_KEY"] = "web-push (VAPID) private key"
    for name in re.findall(r"^MEDIANEST_(\w+)=", printed.stdout, re.MULTILINE):
        assert words[name] in helped, (name, helped)
    target = tmp_path / "secrets.json"
    written = invoke_medianest("generate-secrets", "--output", str(target))
    assert written.returncode == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def _serve_until_healthy(port: int, tmp_path, **popen_args):
    process = subprocess.Popen(
        [sys.executable, "-m", "medianest.cli", "serve", "--port", str(port)],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")},
            "MEDIANEST_DATA_DIR": str(tmp_path / "data"),
        },
        **popen_args,
    )
    # A loaded CI machine starts slowly.
    if wait_for_health(f"http://127.0.0.1:{port}", process=process, timeout=90):
        return process
    process.terminate()
    raise AssertionError("serve never answered /api/health")


def _an_idle_connection_stays_open(port: int, *, idle_seconds: float) -> None:
    """A client that keeps a connection for reuse (Node, httpx, a proxy) finds it open
    after a pause longer than uvicorn's default keep-alive (5 s): were it closed, a reuse
    in the instant it closes would meet a reset (cli.KEEP_ALIVE_SECONDS)."""
    request = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for attempt in range(2):
            sock.sendall(request)
            assert reader.readline().startswith(b"HTTP/1.1 200"), attempt
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
            if attempt == 0:
                time.sleep(idle_seconds)
                sock.setblocking(False)
                try:
                    closed = sock.recv(1, socket.MSG_PEEK) == b""
                except BlockingIOError:
                    closed = False
                sock.setblocking(True)
                sock.settimeout(10)
                assert not closed, f"the server closed a connection idle for {idle_seconds} s"


def test_serve_on_the_embedded_default_answers_health_persists_secrets_and_says_how_to_sign_in(
    tmp_path,
):
    port = free_port()
    process = _serve_until_healthy(port, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10)
        assert response.json()["data"]["checks"]["database"]["status"] == "ok"
        secrets_file = tmp_path / "data" / "secrets.json"
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        assert (tmp_path / "data" / "medianest.db").exists()
        _an_idle_connection_stays_open(port, idle_seconds=6)
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0].decode()
    assert "secrets_generated" in output
    assert "Traceback" not in output
    assert (
        f"open http://127.0.0.1:{port} and sign in as admin / admin (you will choose a new "
        "password)" in output
    )
    # Not a terminal: the log lines stay JSON for collectors.
    assert any(line.startswith("{") and '"event"' in line for line in output.splitlines())


def test_serve_in_a_terminal_writes_console_lines_not_json(tmp_path):
    import pty

    port = free_port()
    leader, follower = pty.openpty()
    try:
        process = _serve_until_healthy(
            port, tmp_path, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL
        )
        process.terminate()
        process.wait(timeout=15)
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all output was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    output = b"".join(chunks).decode(errors="replace")
    assert f"open http://127.0.0.1:{port} and sign in as admin / admin" in output
    log_lines = [line for line in output.splitlines() if "serving" in line]
    assert log_lines, output
    assert not any(line.lstrip().startswith("{") for line in log_lines)
