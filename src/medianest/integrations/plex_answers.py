"""Small readers of Plex's answers and ids, shared by the Plex client's methods."""

from __future__ import annotations

from typing import Any

from medianest.core.errors import UpstreamError, ValidationFailed


def media_container(data: Any) -> dict[str, Any]:
    """The `MediaContainer` every Plex answer is wrapped in; UpstreamError without one."""
    container = data.get("MediaContainer") if isinstance(data, dict) else None
    if not isinstance(container, dict):
        raise UpstreamError("Plex answered without a MediaContainer.", details={"service": "plex"})
    return container


def plex_id(value: str | int) -> str:
    """A ratingKey or section id as a path segment (digits only: nothing else to inject)."""
    text = str(value)
    if not text.isdigit():
        raise ValidationFailed("Plex ids are numbers.", details={"id": text[:40]})
    return text


def int_or(value: Any, default: int) -> int:
    """`value` as an int (Plex sends numbers as strings in XML), else `default`."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
