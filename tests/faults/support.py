"""Tools for breaking things on purpose, all on loopback and all bounded in time.

- `RedisServer`: a throwaway `redis-server` subprocess on a free port that a test may
  kill and start again on the same port (the shared Redis is never touched).
- `TcpProxy`: an asyncio TCP proxy between the app and PostgreSQL or Redis; `cut()` closes
  every connection and refuses new ones, `blackhole()` leaves open ones silent (no reset
  reaches the app, as when the server's host loses power), `restore()` accepts again.
- `AppProcess`: the app served by `medianest serve` as its own process (as in production),
  configured from a `Settings` object.
- `timed()`: how long an awaitable took, to measure "fails quickly" and "recovers".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import redis as redis_sync
from pydantic import SecretStr

from medianest.settings import Settings
from tests.support.servers import free_port, wait_for_health

T = TypeVar("T")


async def timed(awaitable: Awaitable[T]) -> tuple[T, float]:
    """The awaitable's result and the seconds it took."""
    started = time.perf_counter()
    result = await awaitable
    return result, time.perf_counter() - started


class RedisServer:
    """A private Redis (no persistence) on a fixed free port; kill it and start it again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("redis-server did not start in time")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, as a crashed or OOM-killed Redis; waits until the port is closed."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung Redis)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def answers(self) -> bool:
        try:
            return bool(redis_sync.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except (redis_sync.RedisError, OSError):
            return False

    def keys(self, pattern: str) -> list[str]:
        client = redis_sync.Redis.from_url(self.url, socket_connect_timeout=1)
        return sorted(k.decode() for k in client.scan_iter(match=pattern))


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream address until cut."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        # Client side of each forwarded connection (what `blackhole` silences).
        self._clients: dict[asyncio.StreamWriter, asyncio.StreamReader] = {}
        self._pumps: set[asyncio.Task[None]] = set()
        self._silencing = False  # pumps stopped by `blackhole` leave their sockets open
        self.accepted = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def cut(self) -> None:
        """Stop listening (new connections are refused) and drop every open connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # a reset, as when the server process dies
        self._clients.clear()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        self._writers.clear()
        if server is not None:
            # Last: since Python 3.12.1 this waits for every connection the server
            # accepted to close (before, it returned at once), so only after the resets.
            await server.wait_closed()

    async def blackhole(self) -> None:
        """The path goes quiet, as when the server's host loses power: new connections are
        refused, open ones neither answer nor close, and their server side is dropped
        (a server started again knows nothing of them). Once restored, data the app sends
        on such a connection is answered with a reset, as a restarted server answers it;
        a connection the app only reads from stays silent for ever."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self._silencing = True
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        self._silencing = False
        for writer in list(self._writers):
            if writer not in self._clients:
                writer.transport.abort()  # the server side
        for writer, reader in list(self._clients.items()):
            self._writers.add(writer)
            pump = asyncio.create_task(self._swallow(reader, writer))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.read(65536):
                if self._server is not None:  # restored: the server resets what it forgot
                    writer.transport.abort()
                    return
        except OSError:
            pass
        finally:
            self._clients.pop(writer, None)

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.add(writer)  # at once: a cut during the upstream connect resets it too
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        if self._server is None or writer not in self._writers:  # cut meanwhile
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self._writers.add(up_writer)
        self._clients[writer] = reader
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            pump = asyncio.create_task(self._pump(source, sink))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if not self._silencing:
                self._writers.discard(sink)
                self._clients.pop(sink, None)
                with contextlib.suppress(OSError, RuntimeError):
                    sink.close()


def settings_env(settings: Settings) -> dict[str, str]:
    """MEDIANEST_* variables reproducing the explicitly set fields of `settings`."""
    env: dict[str, str] = {}
    for name in settings.model_fields_set:
        value: Any = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = json.dumps(
                [v.get_secret_value() if isinstance(v, SecretStr) else v for v in value]
            )
        env[f"MEDIANEST_{name.upper()}"] = str(value)
    return env


class AppProcess:
    """`python -m medianest serve` on a free port, with its log in `log_path`."""

    def __init__(self, settings: Settings, log_path: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        inherited = {k: v for k, v in os.environ.items() if not k.upper().startswith("MEDIANEST_")}
        self.env = {**inherited, **settings_env(settings), **extra_env}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> AppProcess:
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "medianest", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        if wait_for_health(self.url, process=self.process, timeout=timeout):
            return self
        if self.process.poll() is not None:
            raise RuntimeError(f"the app exited during start; see {self.log_path}")
        raise TimeoutError(f"the app did not start in time; see {self.log_path}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> AppProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
