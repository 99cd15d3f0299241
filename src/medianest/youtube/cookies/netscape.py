"""The Netscape cookies.txt an admin gives for YouTube: read, checked and written back
the way yt-dlp reads it.

yt-dlp loads `--cookies FILE` with `yt_dlp/cookies.py` `YoutubeDLCookieJar.load`: a
`#HttpOnly_` prefix is dropped, comments and blank lines are skipped, every other line
must have 7 tab-separated fields with a numeric (or empty) expiry, and JSON is refused.
Under it, CPython's `http.cookiejar.MozillaCookieJar._really_load` wants the
`# Netscape HTTP Cookie File` line first and asserts that the "include subdomains" flag
matches the domain's leading dot (a mismatch fails the whole file). So a file is
checked line by line here (an admin gets the line that is wrong, where yt-dlp would
skip it with a warning), and stored rewritten: header first, the flag from the dot, as
`YoutubeDLCookieJar._really_save` writes it. Cookies are only accepted for hosts the
download fetch guard allows (`downloads.urls.cookie_domain_allowed`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from medianest.core.errors import PayloadTooLarge, ValidationFailed
from medianest.youtube.downloads.urls import cookie_domain_allowed

MAX_COOKIE_FILE_BYTES = 256 * 1024
HEADER = "# Netscape HTTP Cookie File"
HTTPONLY_PREFIX = "#HttpOnly_"
_EXPIRES_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # YoutubeDLCookieJar.load's check
_MAX_REPORTED = 10  # lines or domains named in an error's details


@dataclass(frozen=True)
class CookieEntry:
    domain: str
    path: str
    secure: bool
    expires: int  # 0: a session cookie (yt-dlp writes it so)
    name: str
    value: str
    http_only: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.domain.lower(), self.path, self.name)

    def same_cookie(self, other: CookieEntry) -> bool:
        """Equal as yt-dlp writes it back (it drops the HttpOnly mark)."""
        return (self.key, self.value, self.secure, self.expires) == (
            other.key,
            other.value,
            other.secure,
            other.expires,
        )

    def line(self) -> str:
        flag = "TRUE" if self.domain.startswith(".") else "FALSE"
        fields = (self.domain, flag, self.path, "TRUE" if self.secure else "FALSE")
        prefix = HTTPONLY_PREFIX if self.http_only else ""
        return prefix + "\t".join((*fields, str(self.expires), self.name, self.value))


@dataclass(frozen=True)
class CookieFile:
    entries: tuple[CookieEntry, ...]

    @property
    def text(self) -> str:
        return "\n".join([HEADER, *(entry.line() for entry in self.entries)]) + "\n"

    @property
    def domains(self) -> list[str]:
        return sorted({entry.domain.lower().removeprefix(".") for entry in self.entries})

    @property
    def earliest_expiry(self) -> datetime | None:
        """When the first cookie with an expiry runs out (session cookies have none)."""
        stamps = [entry.expires for entry in self.entries if entry.expires > 0]
        return datetime.fromtimestamp(min(stamps), UTC) if stamps else None


def _refused(message: str, **details: object) -> ValidationFailed:
    return ValidationFailed(message, details={"field": "cookies", **details})


def _entry(line: str) -> CookieEntry | str:
    """The cookie on one line, or why the line is not one."""
    http_only = line.startswith(HTTPONLY_PREFIX)
    fields = line.removeprefix(HTTPONLY_PREFIX).split("\t")
    if len(fields) != 7:
        return f"{len(fields)} tab-separated fields, not 7"
    domain, _flag, path, secure, expires, name, value = fields
    if not domain.strip() or any(c.isspace() for c in domain):
        return "no domain"
    if expires and not _EXPIRES_RE.fullmatch(expires):
        return "the expiry is not a number"
    if not name and not value:
        return "no name"
    stamp = int(float(expires)) if expires else 0
    return CookieEntry(domain, path or "/", secure == "TRUE", stamp, name, value, http_only)


def _lines(text: str) -> list[tuple[int, str]]:
    """The lines that should be cookies, numbered from 1 (CRLF and CR ends read as LF)."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        bare = line.removeprefix(HTTPONLY_PREFIX)
        if not bare.strip() or bare.lstrip().startswith(("#", "$")):
            continue  # comments, blank lines and the header, as http.cookiejar skips them
        found.append((number, line))
    return found


def _check_text(text: str) -> None:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_COOKIE_FILE_BYTES:
        raise PayloadTooLarge(
            f"A cookies file is at most {MAX_COOKIE_FILE_BYTES // 1024} kB.",
            details={"field": "cookies", "maxBytes": MAX_COOKIE_FILE_BYTES},
        )
    if any((ord(c) < 0x20 and c not in "\t\r\n") or c == "\x7f" for c in text):
        raise _refused("This is not a cookies.txt file (it holds binary data).", reason="not_text")
    if text.lstrip()[:1] in ("[", "{"):  # YoutubeDLCookieJar.load refuses JSON the same way
        raise _refused(
            "Cookies must be in the Netscape cookies.txt format, not JSON (export them "
            'with a "cookies.txt" browser extension).',
            reason="json",
        )


def parse_cookie_file(
    text: str, *, extra_hosts: list[str] | tuple[str, ...], allow_empty: bool = False
) -> CookieFile:
    """The cookies in `text` when every line is one yt-dlp would load and every domain is
    one MediaNest downloads from; `ValidationFailed` (or 413 when too large) otherwise.
    `allow_empty`: a jar every cookie of which the sites deleted (not an admin's file)."""
    _check_text(text)
    entries: list[CookieEntry] = []
    bad: list[dict[str, object]] = []
    for number, line in _lines(text):
        parsed = _entry(line)
        if isinstance(parsed, str):
            bad.append({"line": number, "problem": parsed})
        else:
            entries.append(parsed)
    if bad:
        raise _refused(
            f"Line {bad[0]['line']} is not a Netscape cookie line ({bad[0]['problem']}).",
            reason="not_netscape",
            lines=bad[:_MAX_REPORTED],
        )
    if not entries and not allow_empty:
        raise _refused("There is no cookie in this file.", reason="no_cookies")
    foreign = sorted(
        {
            e.domain.lower()
            for e in entries
            if not cookie_domain_allowed(e.domain, extra_hosts=extra_hosts)
        }
    )
    if foreign:
        raise _refused(
            "Only cookies for YouTube (and the hosts MediaNest may download from) are "
            f"accepted; remove those for: {', '.join(foreign[:_MAX_REPORTED])}.",
            reason="foreign_domains",
            domains=foreign[:_MAX_REPORTED],
            foreignCount=len(foreign),
        )
    unique = {entry.key: entry for entry in entries}  # a later line wins, as in a jar
    return CookieFile(tuple(unique.values()))


def merge_run(
    current: CookieFile, *, base: CookieFile, theirs: CookieFile, now: float
) -> CookieFile | None:
    """The stored jar (`current`) after one yt-dlp run: a three-way merge of what the run
    was lent (`base`) and what yt-dlp wrote back on close (`theirs`).

    A cookie the run set or changed replaces the stored one (two runs changing the same
    cookie: the last one wins). A cookie lent and not written back was deleted by the
    site: http.cookiejar drops a cookie whose `Set-Cookie` expiry is past (or Max-Age=0)
    (`CookieJar._cookie_from_cookie_tuple`: "Expiry date in past is request to delete
    cookie"), and yt-dlp writes every other cookie of its jar (`YoutubeDLCookieJar.save`,
    `ignore_discard`, `ignore_expires`); it is removed unless the stored one changed since
    `base` (another run renewed it). Expired cookies are dropped: yt-dlp never sends
    them. The HttpOnly mark yt-dlp drops is kept. None when nothing changes."""
    lent = {e.key: e for e in base.entries}
    back = {e.key: e for e in theirs.entries}
    merged = {e.key: e for e in current.entries}
    for key, entry in back.items():
        was = lent.get(key)
        if was is not None and was.same_cookie(entry):
            continue  # untouched by this run: the stored one stands
        kept = merged.get(key) or was
        http_only = kept.http_only if kept is not None else entry.http_only
        merged[key] = replace(entry, http_only=http_only)
    for key, was in lent.items():
        stored = merged.get(key)
        if key not in back and stored is not None and stored.same_cookie(was):
            del merged[key]  # the site deleted it, and nobody renewed it since
    alive = CookieFile(tuple(e for e in merged.values() if not 0 < e.expires <= now))
    return None if alive.text == current.text else alive
