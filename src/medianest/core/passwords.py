"""Password hashing with Argon2id (pwdlib), off the event loop and bounded.

Each Argon2 check costs ~0.1 s of CPU and 64 MB of memory, so a flood of bogus
sign-ins must neither take every thread and gigabytes nor hold database connections
while it waits: at most `HASH_CONCURRENCY` run at once, at most `HASH_QUEUE` wait,
and the rest are answered 503 SERVICE_BUSY at once. The request's idle database
connection goes back to the pool before it waits (db/engine.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import weakref
from collections.abc import Callable, Iterator
from typing import TypeVar

import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from medianest.core.errors import ServiceBusy
from medianest.db.engine import release_current_connection

# pwdlib's Argon2id defaults (RFC 9106's second recommendation: m=64 MiB, t=3, p=4).
HASHER = PasswordHash((Argon2Hasher(),))
_hasher = HASHER  # the in-process tests swap in cheaper parameters (tests/conftest.py)

T = TypeVar("T")

# One Argon2 check already keeps four threads busy (parallelism 4): one check per two
# cores leaves the event loop a core, so signed-in users keep their fast answers.
HASH_CONCURRENCY = max(1, min(4, (os.cpu_count() or 2) // 2))
# A queue of a few seconds of work at most; beyond it a sign-in is answered 503 at once.
HASH_QUEUE = 4 * HASH_CONCURRENCY


class _HashGate:
    """At most `concurrency` hashes at once and `queue` waiting, on one event loop."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self.limiter = anyio.CapacityLimiter(concurrency)
        self.queue = queue
        self.capacity = concurrency + queue
        self.admitted = 0  # sign-ins between admission and their answer

    def check_queue(self) -> None:
        if self.limiter.statistics().tasks_waiting >= self.queue:
            raise _busy()

    async def run(self, work: Callable[[], T]) -> T:
        self.check_queue()
        return await anyio.to_thread.run_sync(work, limiter=self.limiter)


def _busy() -> ServiceBusy:
    return ServiceBusy(
        "Too many sign-ins at once. Try again in a moment.",
        details={"reason": "password_checks_busy"},
    )


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _HashGate] = (
    weakref.WeakKeyDictionary()
)


def _gate() -> _HashGate:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = _HashGate(HASH_CONCURRENCY, HASH_QUEUE)
    return gate


@contextlib.contextmanager
def sign_in_admission() -> Iterator[None]:
    """Hold one of the sign-ins the password checks can take at once (running and
    queued), or raise 503 SERVICE_BUSY at once: a sign-in refused here has cost no
    throttle, cache or database round trip, so a flood cannot queue on any of them."""
    gate = _gate()
    if gate.admitted >= gate.capacity:
        raise _busy()
    gate.admitted += 1
    try:
        yield
    finally:
        gate.admitted -= 1


async def _hash_work(work: Callable[[], T]) -> T:
    await release_current_connection()
    return await _gate().run(work)


@functools.cache
def _dummy_hash() -> str:
    """Verified against unknown usernames so that timing does not reveal which names
    exist. Made on first use, not at import (an Argon2 hash costs ~0.1 s of start-up)."""
    return _hasher.hash("medianest-dummy-password")


MIN_PASSWORD_LENGTH = 12


async def hash_password(password: str) -> str:
    return await _hash_work(functools.partial(_hasher.hash, password))


async def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Check a password; returns (valid, new hash when the stored one should be upgraded)."""

    def check() -> tuple[bool, str | None]:
        return _hasher.verify_and_update(password, password_hash or _dummy_hash())

    valid, updated = await _hash_work(check)
    if password_hash is None:
        return False, None
    return bool(valid), updated


def password_problems(password: str, *, username: str) -> list[str]:
    """Each broken rule as one short sentence a person can act on."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            f"Use at least {MIN_PASSWORD_LENGTH} characters (this one has {len(password)})."
        )
    if password.casefold() == username.casefold():
        problems.append("Do not use your username as the password.")
    elif password.casefold() == "admin":
        problems.append("Do not use 'admin' as the password.")
    return problems
