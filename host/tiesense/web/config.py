"""Settings of the web side, one object held by the app (``app.state.settings``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..access import SESSION_HOURS
from ..aggregates import DEFAULT_K

__all__ = ["Settings", "DEFAULT_ADDRESS"]

#: Where ``tiesense serve --api`` listens when given no address: this machine only.
DEFAULT_ADDRESS = "127.0.0.1:8080"


@dataclass(frozen=True)
class Settings:
    """What the web side may be told.

    Attributes
    ----------
    k : int
        Smallest number of respondents a cell a viewer sees may be built from (k-anonymity).
    page_default, page_max : int
        Rows per page when a list is asked without ``limit``, and the most a ``limit`` may ask.
    session_hours : float
        How long a login lasts.
    cookie_name : str
        The session cookie.
    cookie_secure : bool or None
        Mark the cookie Secure (sent over HTTPS only). None: when the request came over HTTPS
        (behind a TLS proxy, run uvicorn with ``--forwarded-allow-ips`` so it knows).
    login_attempts : int
        Failed logins per name within ``login_window_s`` before further tries are refused (429).
    """

    k: int = DEFAULT_K
    page_default: int = 100
    page_max: int = 1000
    session_hours: float = SESSION_HOURS
    cookie_name: str = "tiesense_session"
    cookie_secure: bool | None = None
    login_attempts: int = 5
    login_window_s: float = 900.0

    def __post_init__(self):
        if self.k < 1:
            raise ValueError(f"k must be 1 or more, not {self.k}")
