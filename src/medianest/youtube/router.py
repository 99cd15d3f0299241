"""JSON API of the youtube package (filled in by its issue)."""

from __future__ import annotations

from fastapi import APIRouter

from medianest.core.envelope import ERROR_RESPONSES

router = APIRouter(prefix="/api/youtube", tags=["youtube"], responses=ERROR_RESPONSES)
