"""HLS live streams for the media host: real MPEG-TS segments cut with ffmpeg from the
host's clips, served as a live media playlist (a sliding window, no `#EXT-X-ENDLIST`)
while the stream is on the air and as the whole recording (with `#EXT-X-ENDLIST`) once
it has ended.

yt-dlp's generic extractor tells the two apart the same way: a media playlist without
`#EXT-X-ENDLIST` has no VOD duration, so it is `live_status: is_live`
(`yt_dlp/extractor/generic.py`, `GenericIE._extra_manifest_info`, "Attempt to detect live
HLS"; `yt_dlp/extractor/common.py`, `InfoExtractor._parse_m3u8_vod_duration`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

HLS_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_SECONDS = 1
WINDOW = 3  # segments listed at once while live, as a live encoder's playlist keeps a window
_segments_lock = threading.Lock()


def ensure_segments(clips: list[Path], cache: Path) -> list[Path]:
    """1-second MPEG-TS segments (a keyframe each) of the clips played one after the other,
    cut once with ffmpeg's HLS muxer and cached next to the clips."""
    folder = cache / "hls-v1"
    with _segments_lock:
        existing = sorted(folder.glob("seg-*.ts"), key=lambda p: int(p.stem.split("-")[1]))
        if existing and (folder / "done").is_file():
            return existing
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RuntimeError("ffmpeg is needed to cut the media simulator's live segments")
        work = cache / f".hls-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        inputs = [arg for clip in clips for arg in ("-i", str(clip))]
        joined = "".join(f"[{n}:v][{n}:a]" for n in range(len(clips)))
        subprocess.run(
            [
                ffmpeg,
                *("-hide_banner", "-loglevel", "error", "-y", *inputs),
                *("-filter_complex", f"{joined}concat=n={len(clips)}:v=1:a=1[v][a]"),
                *("-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast"),
                *("-g", "10", "-keyint_min", "10", "-sc_threshold", "0", "-pix_fmt", "yuv420p"),
                *("-c:a", "aac", "-b:a", "32k", "-f", "hls", "-hls_time", str(SEGMENT_SECONDS)),
                *("-hls_list_size", "0", "-hls_segment_filename", str(work / "seg-%d.ts")),
                str(work / "index.m3u8"),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        (work / "done").write_text("ok\n")
        shutil.rmtree(folder, ignore_errors=True)
        work.replace(folder)  # atomic: parallel test processes never see half a set
        return sorted(folder.glob("seg-*.ts"), key=lambda p: int(p.stem.split("-")[1]))


@dataclass
class LiveStream:
    slug: str
    title: str
    started: float = field(default_factory=time.monotonic)
    ended: bool = False


class LiveStreams:
    """The host's live streams: `/live/{slug}.m3u8` and `/live/{slug}/{n}.ts`."""

    def __init__(self, clips: list[Path], cache: Path) -> None:
        self.clips, self.cache = clips, cache
        self.segments: list[Path] = []  # cut on the first stream added
        self.streams: dict[str, LiveStream] = {}
        self.lock = threading.Lock()

    def add(self, slug: str, title: str) -> None:
        """A stream on the air from now on."""
        segments = self.segments or ensure_segments(self.clips, self.cache)
        with self.lock:
            self.segments = segments
            self.streams[slug] = LiveStream(slug, title)

    def reset(self) -> None:
        with self.lock:
            self.streams = {}

    def end(self, slug: str) -> None:
        """The stream is over: its playlist lists the whole recording and ends."""
        with self.lock:
            self.streams[slug].ended = True

    def playlist(self, slug: str) -> str | None:
        with self.lock:
            stream = self.streams.get(slug)
            if stream is None:
                return None
            ended, started = stream.ended, stream.started
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}"]
        if ended:  # the recording: every segment once, then the end
            first, count = 0, len(self.segments)
        else:  # the window slides one segment per SEGMENT_SECONDS of air time
            first, count = int((time.monotonic() - started) / SEGMENT_SECONDS), WINDOW
        lines.append(f"#EXT-X-MEDIA-SEQUENCE:{first}")
        for sequence in range(first, first + count):
            lines += [f"#EXTINF:{SEGMENT_SECONDS:.3f},", f"{slug}/{sequence}.ts"]
        if ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/live/{slug}.m3u8", self._playlist, methods=["GET", "HEAD"]),
            Route("/live/{slug}/{sequence:int}.ts", self._segment, methods=["GET", "HEAD"]),
        ]

    async def _playlist(self, request: Request) -> Response:
        body = self.playlist(request.path_params["slug"])
        if body is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        return Response(body, media_type=HLS_TYPE, headers={"Cache-Control": "no-cache"})

    async def _segment(self, request: Request) -> Response:
        with self.lock:
            known = request.path_params["slug"] in self.streams
        if not known:
            return Response("Not Found", status_code=404, media_type="text/plain")
        segment = self.segments[request.path_params["sequence"] % len(self.segments)]
        return Response(segment.read_bytes(), media_type="video/mp2t")
