"""JSON API of the admin package (filled in by its issue)."""

from __future__ import annotations

from fastapi import APIRouter

from medianest.core.envelope import ERROR_RESPONSES

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ERROR_RESPONSES)
