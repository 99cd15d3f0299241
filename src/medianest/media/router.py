"""JSON API of the media package (filled in by its issue)."""

from __future__ import annotations

from fastapi import APIRouter

from medianest.core.envelope import ERROR_RESPONSES

router = APIRouter(prefix="/api/media", tags=["media"], responses=ERROR_RESPONSES)
