"""Health: open to anyone, says nothing about the data."""
from __future__ import annotations

from fastapi import APIRouter

from ... import __version__

router = APIRouter(tags=["health"])


@router.get("/api/health")
def health() -> dict:
    """The API is up: ``{"status": "ok", "version": ...}`` (no login needed)."""
    return {"status": "ok", "version": __version__}
