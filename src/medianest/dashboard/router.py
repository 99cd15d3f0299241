"""JSON API of the dashboard package (filled in by its issue)."""

from __future__ import annotations

from fastapi import APIRouter

from medianest.core.envelope import ERROR_RESPONSES

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"], responses=ERROR_RESPONSES)
