"""Argon2id with the least work, for apps the tests run (tests/conftest.py, the fuzzing's
served process): the same code and hash format as production, a fraction of its CPU."""

from __future__ import annotations

import sys

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from medianest.core import passwords

CHEAP = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))


def use(hasher: PasswordHash) -> None:
    passwords._hasher = hasher
    passwords._dummy_hash.cache_clear()


def serve_cheaply() -> None:
    """`python -m tests.support.cheap_hashes serve --port N`: `medianest serve` hashing
    cheaply, for a served app whose tests are not about sign-in cost."""
    use(CHEAP)
    from medianest.__main__ import main

    sys.argv = ["medianest", *sys.argv[1:]]
    main()


if __name__ == "__main__":
    serve_cheaply()
