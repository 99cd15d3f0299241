"""`GET /api/dashboard/status` from memory: what every open dashboard or home-automation
poller asks for, over and over.

Answers only when a cached session proves the caller (`signed_in_from_memory`) and this
instance's copy of the aggregate is fresh or can be re-read from the shared cache (the
in-process cache, or Redis); otherwise the FastAPI route in `router.py` answers.
Either way the request counts against the same rate limit, and the answer is the same
(tests compare both ways).
"""

from __future__ import annotations

import json

from starlette.types import Receive, Scope, Send

from medianest import API_VERSION
from medianest.auth.dependencies import RATE_LIMITED_MESSAGE, count_api_request
from medianest.auth.identity import signed_in_from_memory
from medianest.context import AppContext
from medianest.core.envelope import json_utc_now
from medianest.core.handlers import api_error_response
from medianest.core.hot_path import HotPaths
from medianest.dashboard import router as dashboard_router
from medianest.dashboard import service as status_service

PATH = "/api/dashboard/status"
_META_END = b',"version":' + json.dumps(API_VERSION).encode() + b"}}"


async def answer_status(ctx: AppContext, scope: Scope, receive: Receive, send: Send) -> bool:
    user = signed_in_from_memory(ctx, scope)
    data = await status_service.local_copy_json(ctx) if user is not None else None
    if user is None or data is None:
        return False
    limit = await count_api_request(ctx, user.id)
    refused = limit.exceeded(RATE_LIMITED_MESSAGE)
    if refused is not None:
        response = api_error_response(
            status=refused.status_code,
            code=refused.code,
            message=refused.message,
            details=refused.details,
            headers=refused.headers,
        )
        await response(scope, receive, send)
        return True
    # The envelope around the cached data; `Meta` with its version, timestamp serialized
    # as pydantic does (a model per request cost more than the rest of this function).
    body = b'{"success":true,"data":' + data + b',"meta":{"timestamp":' + json_utc_now() + _META_END
    headers = [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"application/json"),
        *limit.raw_headers,
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return True


def install(hot_paths: HotPaths[AppContext]) -> None:
    route = next(r for r in dashboard_router.router.routes if getattr(r, "path", None) == PATH)
    hot_paths.register("GET", PATH, answer_status, route=route)
