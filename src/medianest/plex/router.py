"""JSON API of the plex package (filled in by its issue)."""

from __future__ import annotations

from fastapi import APIRouter

from medianest.core.envelope import ERROR_RESPONSES

router = APIRouter(prefix="/api/plex", tags=["plex"], responses=ERROR_RESPONSES)
