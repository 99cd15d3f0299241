"""Password hashing with Argon2id (pwdlib), off the event loop."""

from __future__ import annotations

import functools

import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash((Argon2Hasher(),))


@functools.cache
def _dummy_hash() -> str:
    """Verified against unknown usernames so that timing does not reveal which names
    exist. Made on first use, not at import (an Argon2 hash costs ~0.1 s of start-up)."""
    return _hasher.hash("medianest-dummy-password")


MIN_PASSWORD_LENGTH = 12


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Check a password; returns (valid, new hash when the stored one should be upgraded)."""

    def check() -> tuple[bool, str | None]:
        return _hasher.verify_and_update(password, password_hash or _dummy_hash())

    valid, updated = await anyio.to_thread.run_sync(check)
    if password_hash is None:
        return False, None
    return bool(valid), updated


def password_problems(password: str, *, username: str) -> list[str]:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if password.casefold() == username.casefold():
        problems.append("must not be the username")
    if password.casefold() == "admin":
        problems.append("must not be 'admin'")
    return problems
