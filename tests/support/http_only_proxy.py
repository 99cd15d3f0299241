"""A loopback reverse proxy that passes HTTP and refuses WebSocket upgrades."""

from __future__ import annotations

from typing import Any

import httpx


def http_only_proxy(upstream: str) -> Any:
    """A reverse proxy that passes HTTP and refuses WebSocket upgrades (nginx without the
    `Upgrade`/`Connection` headers of Kuma's reverse-proxy guide): Kuma's UI still works
    through it, on Socket.IO's long-polling."""
    client = httpx.AsyncClient(base_url=upstream, timeout=60)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # the upgrade refused
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [
            (k, v) for k, v in scope["headers"] if k.lower() not in (b"host", b"accept-encoding")
        ]
        answer = await client.request(
            scope["method"],
            scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else ""),
            headers=headers,
            content=body,
        )
        drop = {"content-length", "transfer-encoding", "connection", "content-encoding"}
        await send(
            {
                "type": "http.response.start",
                "status": answer.status_code,
                "headers": [
                    (k.encode(), v.encode()) for k, v in answer.headers.items() if k not in drop
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.content})

    return app
