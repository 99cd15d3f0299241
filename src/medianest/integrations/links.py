"""A configured service's address as a link for people (the dashboard's cards, Plex's
"open in Plex" links): never its credentials."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def link_out(url: str | None) -> str | None:
    """The service's address for a link, without credentials, query or fragment."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in parts.hostname:  # an IPv6 literal keeps its brackets
        host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
