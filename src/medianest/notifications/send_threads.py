"""The few threads Apprise's blocking sends run on, each send bounded as a whole.

Apprise sends through `requests`, whose timeouts are per read: a channel's host that
trickles its answer (a byte every few seconds) holds the sending thread for as long as
it likes, and Apprise's own call timeout only stops waiting for it. Here a send runs on
one of `SEND_THREADS` threads of its own (not the event loop's default executor, not
Apprise's shared pool, not the password hashers' threads), and at its deadline the
caller moves on *and* the sockets the send opened are shut down, so the blocked read
returns and the thread comes back for the next send.

The sockets are found with a `socket.connect` audit hook (installed on the first send):
it only looks at a thread while that thread runs a bounded send, keeps a duplicate of
each socket's descriptor (shutting a duplicate down wakes the read on the original, and
a descriptor of our own can never be one reused by something else meanwhile), and
refuses new connections once the send's time is up.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# Few: a send is mostly waiting on the network, and stuck ones end at their deadline.
SEND_THREADS = 4


class _Sockets:
    """The connections one send opened (duplicates of their descriptors)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._over = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            if self._over:
                raise ConnectionAbortedError("The send's time is up.")
            # fromfd duplicates the descriptor (and, unlike dup(), takes TLS sockets too).
            self._open.append(socket.fromfd(sock.fileno(), sock.family, sock.type))

    def close(self, *, shut_down: bool) -> None:
        """Forget the connections; with `shut_down`, also end them (waking any read)."""
        with self._lock:
            self._over = True
            for sock in self._open:
                if shut_down:
                    with contextlib.suppress(OSError):  # already closed by its owner
                        sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()


_current = threading.local()
_executor: concurrent.futures.ThreadPoolExecutor | None = None
_setup_lock = threading.Lock()


def _on_audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        sockets: _Sockets | None = getattr(_current, "sockets", None)
        if sockets is not None and isinstance(args[0], socket.socket):
            sockets.add(args[0])


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    with _setup_lock:
        if _executor is None:
            sys.addaudithook(_on_audit)  # once a process; a hook cannot be removed
            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=SEND_THREADS, thread_name_prefix="medianest-send"
            )
        return _executor


def _run(sockets: _Sockets, work: Callable[[], T]) -> T:
    _current.sockets = sockets
    try:
        return work()
    finally:
        _current.sockets = None
        sockets.close(shut_down=False)


async def run_bounded(work: Callable[[], T], *, seconds: float) -> T:
    """`work()` on a send thread, waiting for a free thread included, ended at `seconds`:
    raises TimeoutError then (a send still queued never runs; a running one has its
    connections shut down, so its thread is free again within moments)."""
    sockets = _Sockets()
    future = _pool().submit(_run, sockets, work)
    try:
        async with asyncio.timeout(seconds):
            return await asyncio.wrap_future(future)
    except BaseException:
        future.cancel()
        sockets.close(shut_down=True)
        raise
