"""Imports made to fail for a while, for libraries that fall back when an optional
import fails (the command's entry: medianest/__main__.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def absent(names: tuple[str, ...]) -> Iterator[None]:
    """`import name` raises ImportError inside, for names not imported yet; afterwards
    they import as usual."""
    blocked = [name for name in names if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
