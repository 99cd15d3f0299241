"""Pages whose format changed under an old yt-dlp, for the loopback media host.

Each is a DASH manifest whose stream states no `mimeType`. yt-dlp's DASH parser
(`InfoExtractor._parse_mpd_formats_and_subtitles`) reads that field unchecked, and the
KeyError surfaces as "An extractor error has occurred. … Confirm you are on the latest
version using yt-dlp -U": how an extractor that no longer matches its site fails."""

from __future__ import annotations

import threading

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

DASH_TYPE = "application/dash+xml"
CHANGED_MANIFEST = (
    '<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
    'mediaPresentationDuration="PT2S"><Period><AdaptationSet>'
    '<Representation id="1" bandwidth="100000"><BaseURL>video.mp4</BaseURL></Representation>'
    "</AdaptationSet></Period></MPD>\n"
)


class ChangedPages:
    """slug -> title of the pages served at `/dash/{slug}.mpd`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.titles: dict[str, str] = {}

    def reset(self) -> None:
        with self.lock:
            self.titles = {}

    def add(self, slug: str, title: str) -> None:
        with self.lock:
            self.titles[slug] = title

    def listed(self) -> dict[str, str]:
        with self.lock:
            return dict(self.titles)

    @staticmethod
    def path(slug: str) -> str:
        return f"/dash/{slug}.mpd"

    def routes(self) -> list[BaseRoute]:
        return [Route("/dash/{slug}.mpd", self._manifest, methods=["GET", "HEAD"])]

    async def _manifest(self, request: Request) -> Response:
        with self.lock:
            known = request.path_params["slug"] in self.titles
        if not known:
            return Response("Not Found", status_code=404, media_type="text/plain")
        return Response(CHANGED_MANIFEST, media_type=DASH_TYPE)
