"""The store and the settings as dependencies of the routes (``StoreDep``, ``SettingsDep``)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..store import Store
from .config import Settings

__all__ = ["StoreDep", "SettingsDep", "get_store", "get_settings"]


def get_store(request: Request) -> Store:
    """The host's store, shared by every request (it serialises its own use of the connection)."""
    return request.app.state.store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
