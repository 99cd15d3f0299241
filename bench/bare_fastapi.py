"""A second baseline: a bare FastAPI app answering the same envelope as bench/bare_app.py,
with no middleware and no dependencies: what the framework itself costs per request."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from bench.bare_app import PAYLOAD

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/bare")
async def status() -> dict[str, Any]:
    return PAYLOAD
