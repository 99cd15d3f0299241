"""Small helpers for htmx fragments: toasts through `HX-Trigger`, and expected errors
rendered inline (next to the field or in the result area) with their real status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from medianest.core.errors import MediaNestError
from medianest.web.templating import render


def trigger(message: str | None = None, kind: str = "success", **events: Any) -> dict[str, str]:
    """`HX-Trigger` header: a toast (app.js listens for `toast`) plus named events."""
    payload: dict[str, Any] = dict(events)
    if message:
        payload["toast"] = {"message": message, "type": kind}
    return {"HX-Trigger": json.dumps(payload)}


def retry_at(error: MediaNestError) -> datetime | None:
    """When a rate-limited action may be tried again (from `details.retryAfter`)."""
    seconds = error.details.get("retryAfter")
    if not isinstance(seconds, int | float):
        return None
    return datetime.now(UTC) + timedelta(seconds=float(seconds))


def inline_error(
    request: Request,
    error: MediaNestError,
    *,
    template: str = "partials/inline_error.html",
    context: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The error as a fragment with its own status (htmx swaps 409/422/429/503 in place)."""
    values: dict[str, Any] = {"error": error, "retry_at": retry_at(error), "retry_url": None}
    if request.method == "GET" and error.status_code >= 500:
        # An outage passes; asking again is one click (a POST is not repeated unasked).
        query = request.url.query
        values["retry_url"] = f"{request.url.path}?{query}" if query else request.url.path
    values.update(context or {})
    return render(
        request, template, values, status_code=error.status_code, headers=dict(error.headers)
    )
