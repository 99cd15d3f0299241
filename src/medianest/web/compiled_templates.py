"""Compiled templates kept on disk from one start to the next (Jinja2's bytecode cache).

Compiling the 45 templates takes ~0.3 s of CPU (the first `/dashboard` alone held a
middling machine's event loop 112 ms); loading them compiled takes ~10 ms
(docs/performance.md, "Stop 44"). Jinja2 checks each file's source and the Python
version, so an upgraded template or interpreter compiles again. A cache: a file it
cannot read or write is a miss, never a page's error.
"""

from __future__ import annotations

import contextlib
import os
import pickle

from jinja2.bccache import Bucket, FileSystemBytecodeCache


class CompiledTemplates(FileSystemBytecodeCache):
    def __init__(self, directory: os.PathLike[str]) -> None:
        super().__init__(os.fspath(directory), pattern="%s.jinja")

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):
            bucket.reset()  # unreadable or damaged: compiled again, and written anew

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):  # the directory gone or full: next start compiles
            super().dump_bytecode(bucket)
