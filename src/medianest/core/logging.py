"""Structured logging: structlog over stdlib, JSON lines, a correlation id, and no secrets.

Uvicorn's and SQLAlchemy's records go through the same processors, so every line
has the same shape and carries the request's correlation id.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import logging.handlers
import re
import sys
import threading
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import orjson
import structlog

from medianest.core.private_files import PrivateRotatingFileHandler

REDACTED = "[REDACTED]"

# Keys whose values are secrets whatever they contain.
_SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api[-_]?key|authorization|cookie|session(id)?|csrf|"
    r"credential|private[-_]?key|encryption[-_]?key)",
    re.IGNORECASE,
)
# Secrets embedded in free text: query parameters, headers, bearer tokens, URL credentials.
_SECRET_IN_TEXT = [
    (
        re.compile(
            r"(?i)((?:x-plex-token|token|api[-_]?key|apikey|password|secret|access_token)[=:]\s*)"
            r"[^&\s\"',;]+"
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(://[^/\s:@]+:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
    (re.compile(r"\buk\d+_[A-Za-z0-9_-]+"), REDACTED),
]


# Every pattern above needs one of these; most log text (paths, event names) has none,
# and one search is far cheaper than five substitutions on every line.
_MAYBE_SECRET_WORDS = r"token|key|pass|secret|bearer|basic|@|uk\d"  # noqa: S105 (a pattern)
_MAYBE_SECRET = re.compile("(?i)" + _MAYBE_SECRET_WORDS)
_MAYBE_SECRET_LOWER = re.compile(_MAYBE_SECRET_WORDS)


def _may_hold_secret(text: str) -> bool:
    # lower() and a case-sensitive search are cheaper than a case-insensitive search and,
    # for ASCII, find the same (a property test compares). Other text keeps re's folding.
    if text.isascii():
        return _MAYBE_SECRET_LOWER.search(text.lower()) is not None
    return _MAYBE_SECRET.search(text) is not None


@functools.lru_cache(maxsize=1024)
def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def redact_text(text: str) -> str:
    if not _may_hold_secret(text):
        return text
    for pattern, replacement in _SECRET_IN_TEXT:
        text = pattern.sub(replacement, text)
    return text


def redact_value(key: str | None, value: Any) -> Any:
    if key is not None and _is_secret_key(key) and not isinstance(value, bool | int | float):
        if value is None:
            return None
        if isinstance(value, Mapping):
            return {k: redact_value(str(k), v) for k, v in value.items()}
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(None, v) for v in value]
    return value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Last line of defence: strip anything that looks like a secret from the event."""
    plain_texts: list[str] = []  # str values under ordinary keys: one pre-check for all
    for key, value in event_dict.items():
        kind = type(value)
        if kind is str:
            if _is_secret_key(key):
                event_dict[key] = REDACTED
            else:
                plain_texts.append(value)
        elif value is not None and kind not in _PLAIN_NUMBERS:
            # None and numbers stay as redact_value leaves them, even under a secret key.
            event_dict[key] = redact_value(key, value)
    # NUL never occurs in a pattern, so no match can span two values.
    if plain_texts and _may_hold_secret("\0".join(plain_texts)):
        for key, value in event_dict.items():
            if type(value) is str and not _is_secret_key(key):
                event_dict[key] = redact_text(value)
    return event_dict


_PLAIN_NUMBERS = (int, float, bool)


def _json_line(event_dict: Any, **_kwargs: Any) -> str:
    # orjson: a tenth of the stdlib encoder's time; anything it cannot encode is repr'd,
    # as structlog's own JSON renderer does.
    return orjson.dumps(event_dict, default=repr).decode()


_RENDERED = "medianest_rendered"


class _RenderedLine:
    """Last structlog processor: render the line here and hand stdlib the finished text.

    Rendering in the handler instead (structlog's `wrap_for_formatter`) made stdlib copy
    every record and call the processor chain again per handler: two thirds of the cost
    of a line, paid on every request's log line.
    """

    def __init__(self, renderer: Any) -> None:
        self._renderer = renderer

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> tuple[tuple[str], dict[str, Any]]:
        return (self._renderer(logger, method, event_dict),), {"extra": {_RENDERED: True}}


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """Lines structlog rendered pass through as they are; records from other libraries
    (uvicorn, SQLAlchemy, alembic) get the same processors and renderer here."""

    def format(self, record: logging.LogRecord) -> str:
        if record.__dict__.get(_RENDERED):
            return str(record.msg)
        return super().format(record)


class _UtcTimestamp:
    """`timestamp` as ISO 8601 UTC with microseconds ("2026-11-29T11:35:37.910930Z"),
    formatting the date and time once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(
        self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        second, nanos = divmod(time.time_ns(), 1_000_000_000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        event_dict["timestamp"] = f"{self._prefix}.{nanos // 1000:06d}Z"
        return event_dict


_stamp_utc = _UtcTimestamp()
_json_lines = True  # set by configure_logging


class RequestLogger:
    """The one line every request writes, without structlog's per-call machinery.

    Same line as `get_logger(name).info("request", ...)` would give (context variables,
    redaction, level, logger, timestamp, JSON; a test compares the two), built here and
    handed to stdlib directly, without the general path's work per call (a lazy logger
    bound per call, the processor chain, a record made by `makeRecord`).

    Lines are written together once per event-loop iteration (one record, one write,
    however many requests ended in it) rather than one record and one write each: a
    request line may follow a line logged just after it, never by more than that
    iteration. `flush()` writes what is pending now; shutdown calls it.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger = logging.getLogger(name)
        self._fallback = get_logger(name)
        self._pending: list[str] = []
        self._flush_loop: asyncio.AbstractEventLoop | None = None
        self._last_loop: tuple[int, asyncio.AbstractEventLoop | None] = (0, None)

    def request(self, *, method: str | None, path: str, status: int, duration_ms: float) -> None:
        if not self._logger.isEnabledFor(logging.INFO):
            return
        if not _json_lines:  # the console renderer (development): the general path
            self._fallback.info(
                "request", method=method, path=path, status=status, duration_ms=duration_ms
            )
            return
        event: dict[str, Any] = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "event": "request",
        }
        structlog.contextvars.merge_contextvars(None, "info", event)
        redact_processor(None, "info", event)
        event["level"] = "info"
        event["logger"] = self._name
        _stamp_utc(None, "info", event)
        line = _json_line(event)
        loop = self._running_loop()
        if loop is None:  # no event loop: nothing would flush later
            self.flush()
            self._write(line)
            return
        if not self._pending or self._flush_loop is not loop:
            # Also when lines wait on a flush scheduled in a loop that is gone (tests run
            # one loop each; a server could be restarted in-process): this loop writes them.
            loop.call_soon(self.flush)
            self._flush_loop = loop
        self._pending.append(line)

    def _running_loop(self) -> asyncio.AbstractEventLoop | None:
        """`asyncio.get_running_loop()`, without its system call on most lines: on Python
        3.11 it asks the kernel for the process id every time (a forked child must not
        use its parent's loop). A thread runs one loop at a time,
        so the loop last seen running in this thread, still running, is the running one."""
        thread = threading.get_ident()
        seen_thread, seen_loop = self._last_loop
        if seen_thread == thread and seen_loop is not None and seen_loop.is_running():
            return seen_loop
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        self._last_loop = (thread, loop)  # one assignment: threads read the pair whole
        return loop

    def flush(self) -> None:
        self._flush_loop = None
        if self._pending:
            lines, self._pending = self._pending, []
            self._write("\n".join(lines))

    def _write(self, text: str) -> None:
        record = logging.LogRecord(self._name, logging.INFO, "", 0, text, None, None)
        record.__dict__[_RENDERED] = True
        self._logger.handle(record)


def resolve_log_format(fmt: str, *, stream: Any = None) -> str:
    """`auto` is console lines when a person watches the terminal, JSON lines otherwise."""
    if fmt != "auto":
        return fmt
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return "console" if callable(isatty) and isatty() else "json"


def configure_logging(
    *,
    level: str = "INFO",
    fmt: str = "auto",
    log_file: Path | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backups: int = 5,
) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.format_exc_info,
        # Before the level, logger name and time are added: those are never secrets.
        redact_processor,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        _stamp_utc,
    ]
    global _json_lines
    fmt = resolve_log_format(fmt)
    _json_lines = fmt == "json"
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, _RenderedLine(renderer)],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = _Formatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handlers = _handlers(log_file=log_file, max_bytes=max_bytes, backups=backups)
    # The logging HOWTO's "Optimization" switches: our lines never show the caller,
    # thread or process, and finding the caller walks the whole (deep, async) stack on
    # every record.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    _install_on_root(handlers, formatter=formatter, level=level)
    _quiet_other_loggers()


def _handlers(*, log_file: Path | None, max_bytes: int, backups: int) -> list[logging.Handler]:
    """stderr, and the rotating private file when one is configured."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            PrivateRotatingFileHandler(
                log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
        )
    return handlers


def _install_on_root(
    handlers: list[logging.Handler], *, formatter: logging.Formatter, level: str
) -> None:
    """Replace the handlers an earlier call installed (configuring twice adds no lines)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_medianest", False):
            root.removeHandler(handler)
    for handler in handlers:
        handler.setFormatter(formatter)
        setattr(handler, "_medianest", True)  # noqa: B010  (marks our own handlers)
        root.addHandler(handler)
    root.setLevel(level)


def _quiet_other_loggers() -> None:
    # Our own request log replaces uvicorn's access log (which would print raw query strings).
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").handlers.clear()
    logging.getLogger("uvicorn.access").propagate = False
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


# The request line of every HTTP request (written by core/middleware.py).
request_log = RequestLogger("medianest.request")
