"""A signed-in session the loopback media host can insist on, as YouTube does when it
answers a server's downloads with "Sign in to confirm you're not a bot".

YouTube's own refusal is a playability status its extractor turns into that error
(`yt_dlp/extractor/youtube/_video.py`); the generic extractor this host is read with can
only be refused over HTTP, so here it is a 403 without the cookie. With `rotate`, every
accepted request gets a new value in `Set-Cookie` (as YouTube rotates its
`__Secure-*PSIDTS` session cookies) and only that one is accepted afterwards: stricter
than YouTube, which takes an old value for a while, so a client that does not keep the
rotated cookie is caught at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.responses import Response

ONE_YEAR_SECONDS = 400 * 86_400


@dataclass
class SessionCookie:
    name: str
    value: str
    rotate: bool = False
    feeds: bool = False  # feeds too, not only media
    rotations: int = 0
    seen: list[str] = field(default_factory=list)  # the Cookie headers requests carried

    def answer(self, cookie_header: str) -> tuple[Response | None, dict[str, str]]:
        """A 403 when the cookie is missing or stale; else the headers to add."""
        self.seen.append(cookie_header)
        sent = dict(part.strip().split("=", 1) for part in cookie_header.split(";") if "=" in part)
        if sent.get(self.name) != self.value:
            return Response("HTTP 403", status_code=403, media_type="text/plain"), {}
        if not self.rotate:
            return None, {}
        self.rotations += 1
        self.value = f"{self.value.split('~', 1)[0]}~{self.rotations}"
        cookie = f"{self.name}={self.value}; Path=/; Max-Age={ONE_YEAR_SECONDS}; HttpOnly"
        return None, {"Set-Cookie": cookie}
