"""The host service: broker (embedded or external), store, form distribution and ingest, as one unit.

``tiesense serve`` runs :func:`serve`; tests and the demo use :class:`Host`.
"""
from __future__ import annotations

import importlib
import json
import logging
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, TextIO

from . import wire
from .broker import BrokerError, EmbeddedBroker
from .broker_address import BrokerAddress
from .forms import FormError, FormRegistry, builtin_forms
from .hostlock import DatabaseInUse, HostLock
from .ingest import BatchReport, Ingest, IngestError
from .store import FormConflict, Store

__all__ = ["Host", "HostError", "serve", "DEFAULT_SUBSCRIBERS"]

log = logging.getLogger(__name__)

#: Features that follow committed ingest batches, as ``module:factory`` names. Each
#: factory is called with the host's :class:`~tiesense.store.Store` at start and
#: returns a callable taking a :class:`~tiesense.ingest.BatchReport`. They are
#: imported only when a host starts, so importing the service stays light.
DEFAULT_SUBSCRIBERS = ("tiesense.estimates:LiveTies",)


def _load_subscriber(spec: str, store: Store) -> Callable[[BatchReport], None]:
    module, _, name = spec.partition(":")
    made = getattr(importlib.import_module(module), name)(store)
    return made.on_batch if hasattr(made, "on_batch") else made


class HostError(RuntimeError):
    """The host cannot start; the message is one line a user can act on."""


class _PublishedForms(FormRegistry):
    """The host's forms; a version missing here is looked up among the versions published to its database."""

    def __init__(self, store):
        super().__init__()
        self._store = store

    def get(self, form_id: str, version: str) -> dict | None:
        form = super().get(form_id, version)
        if form is None:
            from .store.forms import spec

            form = self._store.read(spec, form_id, version)
            if form is not None:
                self.add(form)
        return form


def _newest(forms: list[dict]) -> list[dict]:
    """The newest version of each form id (versions compare as numbers, as devices compare them), by id."""
    newest: dict[str, dict] = {}
    for f in forms:
        have = newest.get(f["id"])
        if have is None or wire.newer_version(f["version"], have["version"]):
            newest[f["id"]] = f
    return [newest[k] for k in sorted(newest)]


class Host:
    """Broker (embedded unless ``broker_url`` is given), store, forms and ingest.

    Parameters
    ----------
    db_path : str or Path
        SQLite file (created if missing). One host serves it at a time (see
        :class:`~tiesense.hostlock.HostLock`), or the workers of one shared group.
    broker_url : str, BrokerAddress or None
        An external broker (``mqtt://HOST:PORT``, ``mqtts://USER@HOST:PORT``, or a
        :class:`~tiesense.broker_address.BrokerAddress` with credentials and TLS
        files); None starts an embedded amqtt broker.
    embedded_port : int
        Port of the embedded broker (0: a free port).
    shared_group : str or None
        MQTT 5 shared-subscription group for records (external Mosquitto only).
    client_id : str or None
        MQTT client id of the ingest; default derived from this machine and the
        database (and the worker slot in a shared group), so it is stable across
        restarts and no two hosts share one.
    on_batch : callable or None
        Called with each committed :class:`~tiesense.ingest.BatchReport`, after
        the subscribers in ``subscribers``.
    subscribers : iterable of str
        ``module:factory`` names of features that follow committed batches
        (default :data:`DEFAULT_SUBSCRIBERS`: live tie estimates).

    Examples
    --------
    >>> with Host("tiesense.db") as host:      # doctest: +SKIP
    ...     print(host.broker_url, host.stats["records"])
    """

    def __init__(self, db_path: str | Path, broker_url: str | BrokerAddress | None = None, embedded_port: int = 0,
                 shared_group: str | None = None, *, client_id: str | None = None,
                 on_batch: Callable[[BatchReport], None] | None = None,
                 subscribers: Iterable[str] = DEFAULT_SUBSCRIBERS, require_signed: bool = False):
        self.db_path = str(db_path)
        self.require_signed = require_signed
        if broker_url is not None:  # fail early on a bad URL or unreadable password file
            broker_url = broker_url if isinstance(broker_url, BrokerAddress) else BrokerAddress.parse(broker_url)
        elif shared_group is not None:
            raise ValueError("a shared group needs an external MQTT 5 broker such as Mosquitto (--broker): "
                             "the embedded broker speaks MQTT 3.1.1 only")
        self._broker_url = broker_url
        self.embedded_port = embedded_port
        self.shared_group = shared_group
        self._client_id = client_id
        self.on_batch = on_batch
        self.subscriber_specs = tuple(subscribers)
        self.lock = HostLock(self.db_path, shared_group) if self.db_path != ":memory:" else None
        self.broker: EmbeddedBroker | None = None
        self.store: Store | None = None
        self.ingest: Ingest | None = None
        self.forms = FormRegistry()
        self._forms_out: list[dict] = []  # the forms this host publishes (built-in instruments)
        self._login_file = None  # the embedded broker's host login, beside the database while running
        self.started_at: float | None = None

    @property
    def client_id(self) -> str:
        """The ingest's MQTT client id (derived from the database unless given)."""
        if self._client_id is not None:
            return self._client_id
        if self.lock is None:
            return "tiesense-memory"
        return self.lock.client_id

    @property
    def broker_url(self) -> str | None:
        """The broker the host uses (the embedded one's URL once started), without any password."""
        if self._broker_url is None:
            return self.broker.url if self.broker is not None else None
        return self._broker_url.url

    def start(self) -> "Host":
        """Start everything; publish every built-in form, retained, on ``wire.topic_form(id)``.

        Raises
        ------
        HostError
            With a one-line reason (another host serves the database, port in
            use, broker unreachable, a changed form that kept its version, an
            unreadable database...).
        """
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        try:
            forms = builtin_forms()
        except FormError as e:
            raise HostError(f"a built-in form is broken: {e}") from None
        if self.lock is not None:
            try:
                self.lock.acquire()
            except DatabaseInUse as e:
                raise HostError(str(e)) from None
            except OSError as e:
                raise HostError(f"cannot lock the database {self.db_path}: {e.strerror or e}") from None
        try:
            self.store = Store(self.db_path)
        except Exception as e:
            raise HostError(f"cannot open the database {self.db_path}: {e}") from None
        # Record the built-in instruments, except a version the park published with other content (a
        # publish refuses that since built-in versions are checked, but a database may predate the check, or
        # a newer tiesense may ship a version number the park used): the park's own stands for it.
        published = {(f["id"], f["version"]) for f in self.store.forms()}
        kept = []
        for f in forms:
            try:
                self.store.publish_form(f)
            except FormConflict as e:
                if (f["id"], f["version"]) not in published:
                    raise HostError(str(e)) from None
                log.warning("form %s version %s is built in and was published here with other content: the "
                            "published one is used", f["id"], f["version"])
                continue
            kept.append(f)
        forms = kept
        # Check records against every version ever published, not only the newest, and against a version
        # published to the database while this host runs (`tiesense forms publish`), found there on first sight.
        self.forms = _PublishedForms(self.store)
        for f in self.store.forms() + forms:
            self.forms.add(f)
        # Devices get the newest version of each form, built in or published.
        forms = _newest(self.store.forms() + forms)
        address = self._broker_url
        if address is None:
            # The embedded broker lets in only provisioned devices and this run of the host,
            # whose password lives in this process alone.
            from .provisioning import HOST_USER, BrokerLogins

            secret = secrets.token_urlsafe(24)
            self.broker = EmbeddedBroker(port=self.embedded_port, logins=BrokerLogins(self.store, {HOST_USER: secret}))
            try:
                self.broker.start()
            except BrokerError as e:
                raise HostError(str(e)) from None
            address = BrokerAddress(self.broker.host, self.broker.port, username=HOST_USER, password=secret)
            if self.db_path != ":memory:":  # `tiesense command` logs in with it while this host runs
                from .commands import login_file
                from .provisioning import write_secret

                self._login_file = write_secret(login_file(self.db_path), json.dumps(
                    {"url": address.url, "password": secret}) + "\n")
        subscribers = [_load_subscriber(spec, self.store) for spec in self.subscriber_specs]
        if self.on_batch is not None:
            subscribers.append(self.on_batch)
        self.ingest = Ingest(self.store, address, client_id=self.client_id,
                             shared_group=self.shared_group, forms=self.forms, on_batch=subscribers,
                             require_signed=self.require_signed,
                             protocol=4 if self.broker is not None else None)
        try:
            self.ingest.start()
        except IngestError as e:
            raise HostError(str(e)) from None
        self._forms_out = forms
        self.publish_forms()
        self.started_at = time.time()

    def publish_forms(self) -> None:
        """Publish the current forms, retained, signed for every site that has provisioned devices
        (wire contract 2; unsigned version 1 while no device is provisioned)."""
        site_keys = self.store.site_keys() or None
        for f in self._forms_out:
            try:
                self.ingest.publish(wire.topic_form(f["id"]), wire.encode_form(f, site_keys), qos=wire.QOS_FORM,
                                    retain=True)
            except IngestError as e:
                raise HostError(f"cannot publish form '{f['id']}': {e}") from None

    def device_login(self, name: str, site: str = "simulated", role: str = "kiosk"):
        """Provision device ``name`` afresh in the host's database (a previous login of that name is
        revoked) and return its :class:`~tiesense.provisioning.Provisioned` login, with broker host and
        port set to this host's broker: how the demo and tests give simulated devices a login.
        """
        from .provisioning import provision_afresh

        if self.store is None:
            raise HostError("the host is not started")
        address = self._broker_url or BrokerAddress(self.broker.host, self.broker.port)
        new_site = site not in self.store.site_keys()
        login = provision_afresh(self.store, name, site, broker_host=address.host, broker_port=address.port,
                                 role=role)
        if new_site:  # the retained forms must carry this site's signature too
            self.publish_forms()
        return login

    def stop(self) -> None:
        """Stop the ingest (draining and acknowledging what it holds), the broker, and close the store."""
        if self.ingest is not None:
            self.ingest.stop()
            self._last_ingest_stats = self.ingest.stats
            self.ingest = None
        if self.broker is not None:
            self.broker.stop()
        if self._login_file is not None:
            self._login_file.unlink(missing_ok=True)
            self._login_file = None
        if self.store is not None:
            self._last_counts = self.store.counts()
            self.store.close()
            self.store = None
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> "Host":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stats(self) -> dict[str, int]:
        """Ingest counters since start (stored, duplicates, conflicts, quarantined, acks_sent,
        acked, received, batches, errors, queued) and table counts prefixed ``db_``."""
        ing = self.ingest.stats if self.ingest is not None else dict(getattr(self, "_last_ingest_stats", {}))
        counts = self.store.counts() if self.store is not None else dict(getattr(self, "_last_counts", {}))
        out = dict(ing)
        out.update({f"db_{k}": v for k, v in counts.items()})
        return out

    def counts(self) -> dict[str, int]:
        """A dashboard summary: records, conflicts, quarantine, devices, online (from the
        database) and acked, duplicates, received (since start)."""
        s = self.stats
        return {"records": s.get("db_records", 0), "conflicts": s.get("db_conflicts", 0),
                "quarantine": s.get("db_quarantine", 0), "devices": s.get("db_devices", 0),
                "online": s.get("db_online", 0), "acked": s.get("acked", 0),
                "duplicates": s.get("duplicates", 0), "received": s.get("received", 0)}

    def status_line(self) -> str:
        """One line for the console: counts, and any trouble with the broker connection."""
        s = self.stats
        line = (f"records {s.get('db_records', 0)} (+{s.get('stored', 0)} stored, {s.get('duplicates', 0)} duplicate, "
                f"{s.get('conflicts', 0)} conflict)  quarantine {s.get('db_quarantine', 0)}  acked {s.get('acked', 0)}  "
                f"devices online {s.get('db_online', 0)}/{s.get('db_devices', 0)}  queued {s.get('queued', 0)}")
        if self.ingest is None:
            return line + "  [stopped]"
        h = self.ingest.health
        trouble = []
        if not h["connected"]:
            away = time.time() - (h["since"] or time.time())
            trouble.append(f"broker connection lost {away:.0f} s ago, reconnecting")
        if h["taken_over"]:
            trouble.append(f"another client took the host's session {h['taken_over']}x")
        elif h["readmitted"]:
            trouble.append(f"broker dropped the host and let it straight back in {h['readmitted']}x: "
                           "a quick restart, or another client with its client id")
        if h["session_lost"]:
            trouble.append(f"broker lost the host's session {h['session_lost']}x")
        if h["unsent"]:
            trouble.append(f"{h['unsent']} acks waiting for the broker")
        if s.get("errors"):
            trouble.append(f"{s['errors']} database errors (see the log)")
        return line + "".join(f"  [{t}]" for t in trouble)


def web_app(host: Host, k: int | None = None):
    """The web app over a started host's store: re-ingested records reach the host's subscribers, and a
    form published through it is checked against by the ingest and sent to the devices (retained)."""
    from .web import Settings, create_app  # FastAPI only when a web side is asked for

    def on_form(form: dict) -> None:
        host.forms.add(form)
        if host.ingest is not None:
            # signed for every site, as at the host's start: devices holding a site key refuse an unsigned form
            host.ingest.publish(wire.topic_form(form["id"]), wire.encode_form(form, host.store.site_keys() or None),
                                qos=wire.QOS_FORM, retain=True)

    subscribers = list(host.ingest.subscribers) if host.ingest is not None else []
    return create_app(host.store, Settings(k=k) if k else Settings(), on_batch=subscribers, on_form=on_form)


def serve(db_path: str | Path, broker_url: str | BrokerAddress | None = None, embedded_port: int = 1883,
          shared_group: str | None = None, *, client_id: str | None = None, every: float = 5.0,
          out: TextIO | None = None, require_signed: bool = False, api: tuple[str, int] | None = None,
          k: int | None = None) -> None:
    """Run a :class:`Host` until SIGINT or SIGTERM, printing a summary every ``every`` seconds.

    Prints one line when ready (broker URL and database path), and one with the
    web API's URL when ``api`` (host, port) is given. Failures to start end the
    process with a one-line message on stderr and exit status 1.
    """
    out = out or sys.stdout
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    try:
        try:
            host = Host(db_path, broker_url=broker_url, embedded_port=embedded_port, shared_group=shared_group,
                        client_id=client_id, require_signed=require_signed)
        except ValueError as e:
            _fail(str(e))
        try:
            host.start()
        except HostError as e:
            _fail(str(e))
        try:
            web = None
            if api is not None:
                from .web.server import ApiServer

                try:
                    web = ApiServer(web_app(host, k), *api).start()
                except OSError as e:
                    _fail(f"cannot serve the web API at {api[0]}:{api[1]}: {e.strerror or e}")
            print(f"tiesense host ready: broker {host.broker_url}, database {Path(db_path).resolve()}, "
                  f"client id {host.client_id}" + (f", shared group {shared_group}" if shared_group else ""),
                  file=out, flush=True)
            if web is not None:
                print(f"tiesense web API at {web.url}/api (OpenAPI: {web.url}/openapi.json)", file=out, flush=True)
            while not stop.wait(every):
                print(host.status_line(), file=out, flush=True)
        finally:
            if web is not None:
                web.stop()
            host.stop()
        s = host.stats
        print(f"tiesense host stopped: {s.get('db_records', 0)} records in {db_path}", file=out, flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve_api(db_path: str | Path, api: tuple[str, int], *, k: int | None = None, out: TextIO | None = None) -> None:
    """Serve only the web API against ``db_path`` (no broker, no ingest) until SIGINT or SIGTERM.

    Another process (``tiesense serve``) may ingest into the same file meanwhile:
    the store's transactions let both write it.
    """
    out = out or sys.stdout
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .web import Settings, create_app
    from .web.server import bind, run

    try:
        store = Store(db_path)
    except Exception as e:
        _fail(f"cannot open the database {db_path}: {e}")
    try:
        app = create_app(store, Settings(k=k) if k else Settings())
        try:
            sock = bind(*api)
        except OSError as e:
            _fail(f"cannot serve the web API at {api[0]}:{api[1]}: {e.strerror or e}")
        host, port = sock.getsockname()[:2]
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        print(f"tiesense web API at {url}/api (OpenAPI: {url}/openapi.json), database {Path(db_path).resolve()}, "
              "no ingest", file=out, flush=True)
        run(app, sock)
        print("tiesense web API stopped", file=out, flush=True)
    finally:
        store.close()


def _fail(message: str) -> None:
    print(f"tiesense: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)
