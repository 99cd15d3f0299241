"""MediaNest's FastAPI app without the layers ahead of it (request context, security
headers, body limit, gzip, ETag, Socket.IO), served as `medianest serve` serves the whole
app: what its routes, dependencies and kept answers cost through FastAPI with nothing of
MediaNest's around them. A diagnostic cell of `python -m bench.whole_app
--without-layers`, not a way to run MediaNest (its answers lack the headers and
conditional GETs the layers add)."""

from __future__ import annotations

from medianest.cli import settings_for_command, start_serving

app = start_serving(settings_for_command()).fastapi
