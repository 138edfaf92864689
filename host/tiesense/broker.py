"""An embedded MQTT broker (amqtt) for a zero-install host.

amqtt speaks MQTT 3.1.1 only: shared subscriptions (``$share/...``) are granted
but deliver nothing, so scale-out across ingest workers needs Mosquitto.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
from types import TracebackType

# Broker URLs, credentials and TLS live in broker_address; parse_broker_url is kept importable from here.
from .broker_address import parse_broker_url  # noqa: F401

# The largest message the embedded broker passes on, as ``message_size_limit`` does in
# the Mosquitto configuration of docs/operations.md: the wire contract's limit.
from .wire import MAX_PAYLOAD

__all__ = ["EmbeddedBroker", "BrokerError", "parse_broker_url", "free_port", "MAX_PAYLOAD"]

# amqtt logs configuration and deprecation notices at every start and each
# client's connect and disconnect; the host keeps only its errors.
_NOISY_LOGGERS = ("amqtt", "transitions", "passlib")


class BrokerError(RuntimeError):
    """The embedded broker could not start (for example, its port is in use)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _quiet_connection_errors(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """amqtt 0.12 lets an exception escape when a client goes away while it refuses the client's
    CONNECT (an MQTT 5 client is refused, then amqtt's close of the gone socket raises): asyncio
    would print the traceback on the console. A client that left is not the host's error: log it
    at debug; everything else goes to asyncio's default handler."""
    if isinstance(context.get("exception"), OSError) and "client_connected_cb" in context.get("message", ""):
        logging.getLogger(__name__).debug("a client left while amqtt refused it: %s", context["exception"])
        return
    loop.default_exception_handler(context)


def _size_limited(broker_class, max_payload: int):
    """``broker_class`` (amqtt's Broker) dropping every PUBLISH whose payload exceeds ``max_payload``
    bytes, as Mosquitto's ``message_size_limit`` does: nobody receives it, the publisher stays connected."""

    class SizeLimitedBroker(broker_class):
        async def _handle_message_delivery(self, client_session, handler, wait_deliver):
            message = wait_deliver.result() if wait_deliver.done() and not wait_deliver.cancelled() else None
            data = getattr(message, "data", None)
            if data is not None and len(data) > max_payload:
                logging.getLogger(__name__).warning(
                    "dropped a %d-byte message from %s on %s: over the %d-byte limit", len(data),
                    getattr(client_session, "client_id", "?"), getattr(message, "topic", "?"), max_payload)
                return True
            return await super()._handle_message_delivery(client_session, handler, wait_deliver)

    if not hasattr(broker_class, "_handle_message_delivery"):  # an amqtt that moved it: no limit, say so
        logging.getLogger(__name__).warning("this amqtt cannot limit message size; ingest still refuses "
                                            "payloads over %d bytes", max_payload)
        return broker_class
    return SizeLimitedBroker


class EmbeddedBroker:
    """amqtt running in its own thread and event loop, bound to 127.0.0.1 only.

    Parameters
    ----------
    host : str
        Address to bind; only loopback is accepted (devices on a LAN need Mosquitto).
    port : int
        TCP port; 0 picks a free one before starting.
    max_payload : int
        Messages with a larger payload are dropped by the broker (the ingest refuses them too).
    logins : tiesense.provisioning.BrokerLogins or None
        Who may log in and what each may do (the host's broker passes one: anonymous
        clients are refused). None: anyone on 127.0.0.1 may do anything, for tests and benches.

    Examples
    --------
    >>> with EmbeddedBroker() as broker:      # doctest: +SKIP
    ...     print(broker.url)
    mqtt://127.0.0.1:40123
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, max_payload: int = MAX_PAYLOAD, logins=None):
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the embedded broker binds 127.0.0.1 only; use Mosquitto to serve a network")
        self.host = "127.0.0.1"
        self.port = port
        self.max_payload = int(max_payload)
        self.logins = logins
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker = None
        self._stopped: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:PORT``."""
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> "EmbeddedBroker":
        """Start the broker and return once it accepts connections.

        Raises
        ------
        BrokerError
            If the port is in use or amqtt fails to start.
        """
        if self._thread is not None:
            return self
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        if self.port == 0:
            self.port = free_port(self.host)
        elif not _port_is_free(self.host, self.port):
            raise BrokerError(f"port {self.port} on {self.host} is in use: choose another port or stop what listens there")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(ready, failure), name="tiesense-broker", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise BrokerError(f"the embedded broker did not start within {timeout:.0f} s")
        if failure:
            self._thread.join(5)
            self._thread = None
            raise BrokerError(f"the embedded broker failed to start on port {self.port}: {failure[0]}")
        return self

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        import warnings

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_quiet_connection_errors)

        async def main() -> None:
            from amqtt.broker import Broker

            if self.logins is None:
                plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
            else:  # only known logins, each doing only its own business
                plugins = {"tiesense.broker_plugins.LoginPlugin": {"logins": self.logins},
                           "tiesense.broker_plugins.RulesPlugin": {"logins": self.logins}}
            config = {
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                "plugins": plugins,
            }
            self._stopped = asyncio.Event()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    broker = _size_limited(Broker, self.max_payload)(config)
                    await broker.start()
            except BaseException as e:  # report any start failure to the caller's thread
                failure.append(e)
                ready.set()
                return
            self._broker = broker
            ready.set()
            await self._stopped.wait()
            try:
                await broker.shutdown()
            except Exception:  # a broker that fails to shut down cleanly is still stopped
                logging.getLogger(__name__).debug("amqtt shutdown failed", exc_info=True)

        try:
            loop.run_until_complete(main())
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            finally:
                loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the broker down and join its thread (safe to call twice)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if self._stopped is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._stopped.set)
            except RuntimeError:  # loop already closed
                pass
        thread.join(timeout)
        self._thread = None
        self._broker = None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
