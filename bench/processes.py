"""Start the servers under test as subprocesses on loopback and watch their memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import psutil

from medianest.cli import SERVED_OPTIONS

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_VENV = ROOT / "bench" / ".venv-runtime"


def runtime_python() -> str:
    """A virtualenv with MediaNest and only its locked runtime dependencies (what
    `scripts/serve` gives a user), made or refreshed by `scripts/install run`. The test
    extras bring packages the product never imports on its own but Socket.IO's client side
    picks up when present (requests, aiohttp: about 16 MB), which would skew the memory
    figures."""
    subprocess.run(
        [str(ROOT / "scripts" / "install"), "run"],
        env={**os.environ, "MN_VENV": str(RUNTIME_VENV)},
        check=True,
    )
    return str(RUNTIME_VENV / "bin" / "python")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process; `startup_seconds` is the time from spawn to a 200 on `ready_path`."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log: Path,
        prefix: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # `prefix`: what runs the command (valgrind, for bench.request_instructions).
        self._command = [*prefix, *(part.replace("{port}", str(self.port)) for part in command)]
        self._env = env
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0

    def start(self, ready_path: str, timeout: float = 60.0) -> Server:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
        handle = self._log.open("wb")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self._command, env={**clean, **self._env}, cwd=ROOT, stdout=handle, stderr=handle
        )
        deadline = started + timeout
        with httpx.Client(timeout=1) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    tail = self._log.read_text(errors="replace").strip().splitlines()[-5:]
                    raise RuntimeError(f"{self.name} exited: " + " | ".join(tail))
                try:
                    if client.get(self.url + ready_path).status_code == 200:
                        self.startup_seconds = time.perf_counter() - started
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        raise TimeoutError(f"{self.name} did not start within {timeout}s; see {self._log}")

    def rss_bytes(self) -> int:
        assert self.process is not None
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None


class PeakRss:
    """Samples a server's RSS every 100 ms while the `with` block runs."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss_bytes())
            self._stop.wait(0.1)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def medianest_server(
    name: str,
    env: dict[str, str],
    log: Path,
    python: str = sys.executable,
    src: Path | None = None,
    prefix: Sequence[str] = (),
) -> Server:
    """`medianest serve` through the console script's entry; code older than that entry
    (`--against` an older checkout's `src`) through `medianest.cli`."""
    entry = "medianest"
    if src is not None and not (src / "medianest" / "__main__.py").exists():
        entry = "medianest.cli"
    command = [python, "-m", entry, "serve", "--port", "{port}"]
    return Server(name, command, env, log, prefix)


def bare_server(
    log: Path,
    python: str = sys.executable,
    app: str = "bench.bare_app:app",
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Server:
    """A baseline served as `medianest serve` serves MediaNest: same event loop (asyncio's,
    `cli.SERVED_OPTIONS`; on uvloop, as until 2026-12-05, bare Starlette answered 14 %
    more requests a second), no access log."""
    command = [
        python,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--loop",
        SERVED_OPTIONS["loop"],
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return Server(app.split(":")[0], command, env or {}, log, prefix)
