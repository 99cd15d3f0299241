"""The cookies of the loopback media host: a signed-in session it can insist on, as
YouTube does when it answers a server's downloads with "Sign in to confirm you're not a
bot", and cookies it renews or deletes in its answers, as every site does.

YouTube's own refusal is a playability status its extractor turns into that error
(`yt_dlp/extractor/youtube/_video.py`); the generic extractor this host is read with can
only be refused over HTTP, so here it is a 403 without the cookie. With `rotate`, every
accepted request gets a new value in `Set-Cookie` (as YouTube rotates its
`__Secure-*PSIDTS` session cookies) and only that one is accepted afterwards: stricter
than YouTube, which takes an old value for a while, so a client that does not keep the
rotated cookie is caught at once.

A server deletes a cookie with a `Set-Cookie` whose expiry is in the past (RFC 6265
§3.1, whose example is `lang=; Expires=Sun, 06 Nov 1994 08:49:37 GMT`) or `Max-Age=0`; a client's jar then forgets it (CPython `http.cookiejar`,
`CookieJar._cookie_from_cookie_tuple`). With `refuse_replay`, a request that still
carries a deleted cookie is refused (403), as YouTube treats a client replaying a
signed-out session as a bad one."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.responses import Response

ONE_YEAR_SECONDS = 400 * 86_400
PAST = "Sun, 06 Nov 1994 08:49:37 GMT"  # RFC 6265 §3.1's example


def _sent(cookie_header: str) -> dict[str, str]:
    return dict(part.strip().split("=", 1) for part in cookie_header.split(";") if "=" in part)


def _refused() -> Response:
    return Response("HTTP 403", status_code=403, media_type="text/plain")


@dataclass
class SessionCookie:
    name: str
    value: str
    rotate: bool = False
    feeds: bool = False  # feeds too, not only media
    rotations: int = 0
    seen: list[str] = field(default_factory=list)  # the Cookie headers requests carried

    def answer(self, cookie_header: str) -> tuple[Response | None, list[str]]:
        """A 403 when the cookie is missing or stale; else the Set-Cookie values to add."""
        self.seen.append(cookie_header)
        if _sent(cookie_header).get(self.name) != self.value:
            return _refused(), []
        if not self.rotate:
            return None, []
        self.rotations += 1
        self.value = f"{self.value.split('~', 1)[0]}~{self.rotations}"
        return None, [f"{self.name}={self.value}; Path=/; Max-Age={ONE_YEAR_SECONDS}; HttpOnly"]


@dataclass
class CookieChange:
    """What the answers to requests for the path `on` set: `name` renewed to `value`, or
    deleted (`value` None) with an expiry in the past (or `Max-Age=0`)."""

    name: str
    on: str
    value: str | None = None
    max_age: bool = False
    voids: str | None = None  # the value a deletion signs out (None: any value)
    refuse_replay: bool = False  # once deleted, a request still sending it gets a 403
    once: bool = False  # only the first answer carries it
    answers: int = 0  # how many answers carried it

    def header(self) -> str:
        if self.value is not None:
            return f"{self.name}={self.value}; Path=/; Max-Age={ONE_YEAR_SECONDS}"
        if self.max_age:
            return f"{self.name}=; Path=/; Max-Age=0"
        return f"{self.name}=; Path=/; Expires={PAST}"


class HostCookies:
    """The host's cookie rules (used under the simulator's lock)."""

    def __init__(self) -> None:
        self.session: SessionCookie | None = None
        self.changes: list[CookieChange] = []
        self.seen: list[tuple[str, str]] = []  # (path, Cookie header) of every request
        self.replays: list[tuple[str, str]] = []  # (path, name): a deleted cookie sent again

    def deleted(self) -> list[CookieChange]:
        return [c for c in self.changes if c.value is None and c.answers]

    def answer(
        self, path: str, cookie_header: str, *, feed: bool
    ) -> tuple[Response | None, list[str]]:
        """A 403, or the Set-Cookie values the answer to `path` carries."""
        self.seen.append((path, cookie_header))
        sent = _sent(cookie_header)
        replayed = [c for c in self.deleted() if c.name in sent and c.voids in (None, sent[c.name])]
        self.replays += [(path, c.name) for c in replayed]
        if any(c.refuse_replay for c in replayed):
            return _refused(), []
        values: list[str] = []
        if self.session is not None and (self.session.feeds or not feed):
            refused, values = self.session.answer(cookie_header)
            if refused is not None:
                return refused, []
        for change in self.changes:
            if change.on == path and not (change.once and change.answers):
                change.answers += 1
                values.append(change.header())
        return None, values


def with_cookies(response: Response, values: list[str]) -> Response:
    """`response` with one `Set-Cookie` header per value."""
    for value in values:
        response.headers.append("set-cookie", value)
    return response
