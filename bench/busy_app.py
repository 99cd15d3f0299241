"""A bare FastAPI route that spends `BUSY_SECONDS` of CPU per request (about what a
MediaNest answer costs), for bench/loop_fairness.py."""

from __future__ import annotations

import os
import time

from fastapi import FastAPI

BUSY_SECONDS = float(os.environ.get("BENCH_BUSY_SECONDS", "0.0003"))

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/busy")
async def busy() -> dict[str, bool]:
    until = time.perf_counter() + BUSY_SECONDS
    while time.perf_counter() < until:
        pass
    return {"ok": True}
