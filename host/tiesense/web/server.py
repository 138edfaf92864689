"""Running the app: uvicorn on a socket bound here (so a taken port is a one-line error), in a thread
beside the ingest (:class:`ApiServer`) or in the foreground (:func:`run`)."""
from __future__ import annotations

import logging
import socket
import threading

__all__ = ["ApiServer", "bind", "run"]

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket at ``host:port`` (OSError with the reason when it cannot be had)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the listening socket says
    # TCP, and without it a response written in two parts (headers, body) waited ~40 ms for a delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def closing(app) -> None:
    """Tell the app's open streams (``GET /events``) that the server is stopping, so they end now."""
    state = getattr(app, "state", None)
    if state is not None:
        state.closing = True


def _server(app, sock: socket.socket):
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):  # SIGINT / SIGTERM in the foreground
            closing(app)
            super().handle_exit(sig, frame)

    host, port = sock.getsockname()[:2]
    # Live streams end when told the server is closing; anything still open 3 s into a shutdown is cancelled.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False,
                            proxy_headers=True, timeout_graceful_shutdown=3)
    return Server(config)


class ApiServer:
    """The app served by uvicorn in a daemon thread; :meth:`stop` ends it (open requests finish first).

    ``url`` is where it listens (the port actually bound when 0 was asked).
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 8080):
        self.sock = bind(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self.server = _server(app, self.sock)
        self.thread = threading.Thread(target=self._run, name="tiesense-api", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except Exception:  # pragma: no cover - logged, the ingest goes on
            log.exception("the web API stopped")

    def start(self, timeout: float = 10.0) -> "ApiServer":
        self.thread.start()
        waited = 0.0
        while not self.server.started and self.thread.is_alive() and waited < timeout:
            threading.Event().wait(0.02)
            waited += 0.02
        if not self.server.started:
            self.stop()
            raise OSError(f"the web API did not start at {self.url}")
        return self

    def stop(self) -> None:
        closing(self.server.config.app)
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        self.sock.close()


def run(app, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` (from :func:`bind`) in the foreground until SIGINT or SIGTERM, then return.

    uvicorn shuts down on those signals and then raises the signal again with the
    handlers it found; quiet ones here make that a normal return (exit status 0).
    """
    import signal

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: None)
    try:
        _server(app, sock).run(sockets=[sock])
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
