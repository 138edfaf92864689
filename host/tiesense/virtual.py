"""A virtual kiosk (or handheld): the real firmware under ``micropython``, its screen read from the
console and its keys pressed from here, connected to a local host.

:class:`Screen` turns the simulated board's ``SCREEN`` lines (firmware/board/sim.py) back into
whole screens; :class:`VirtualDevice` provisions a device in the host's database, stages it
(``devices.stage``) with a UDP port for live key events (site.json ``sim_keys_port``), runs it
(``devices.SimDevice``) and presses its keys. ``terminal.py`` draws it in a terminal
(``tiesense kiosk --sim``); tests drive the same object without one.

By default the device connects to the host serving ``db`` through the login file a running
``tiesense serve`` writes beside its database (``commands.embedded_login``); with ``broker`` to
that broker instead. Either way it is provisioned (afresh) in ``db``, so the host has its key
and its signed records are accepted.

Examples
--------
>>> s = Screen(cols=4, rows=2)
>>> s.feed("SCREEN ab"), s.feed("SCREEN cd"), s.lines
(False, True, ['ab', 'cd'])
>>> s.feed("UPLINK connected"), s.feed("SCREEN x"), s.lines
(False, False, ['ab', 'cd'])
"""
from __future__ import annotations

import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .devices import ROLE_FORMS, SimDevice, find_micropython, stage

__all__ = ["Screen", "VirtualDevice", "VirtualError", "KIOSK_SCREEN", "HANDHELD_SCREEN", "EVENTS"]

#: The simulated kiosk's text screen (firmware/board/sim.py's default).
KIOSK_SCREEN = (21, 8)
#: The handheld's 320x240 panel (ILI9341, hardware/pinout.toml) in 8x16 characters.
HANDHELD_SCREEN = (40, 15)
#: What can be sent to the device: its four keys, an approach, and the end of the app loop.
EVENTS = ("up", "down", "ok", "back", "presence", "exit")
_PREFIX = "SCREEN "


class VirtualError(RuntimeError):
    """The virtual device cannot start; the message says what to do."""


class Screen:
    """Whole screens from the console: the board prints each screen as ``rows`` consecutive
    ``SCREEN`` lines (survey.py and kiosk.py always draw all rows), so every ``rows`` of them
    make one. ``feed(line)`` returns True when a screen is complete; ``lines`` is the latest."""

    def __init__(self, cols: int, rows: int):
        self.cols, self.rows = cols, rows
        self.lines: list[str] = [""] * rows
        self._building: list[str] = []
        self.count = 0  # complete screens seen

    def feed(self, line: str) -> bool:
        if not line.startswith(_PREFIX):
            return False
        self._building.append(line[len(_PREFIX):].rstrip("\n")[:self.cols])
        if len(self._building) < self.rows:
            return False
        self.lines, self._building = self._building, []
        self.count += 1
        return True


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Connection:
    """Where the device's broker is and which database provisions it."""

    db_path: Path
    broker_host: str
    broker_port: int


def connection(db_path: str | Path, broker: str | None = None) -> Connection:
    """The broker the virtual device uses: ``broker`` (``mqtt://HOST:PORT``), else the embedded broker
    of the ``tiesense serve`` running on ``db_path``.

    Raises
    ------
    VirtualError
        No broker given and no host serving ``db_path``, or an mqtts:// URL (the simulated
        device would need the CA: stage it with ``tiesense firmware stage --ca-file``).
    """
    from .broker_address import BrokerAddress
    from .commands import CommandError, embedded_login

    if broker is None:
        try:
            address = embedded_login(db_path)
        except CommandError as e:
            raise VirtualError(str(e)) from None
    else:
        address = BrokerAddress.parse(broker)
    if address.tls:
        raise VirtualError("the virtual device speaks plain MQTT: give an mqtt:// broker")
    return Connection(Path(db_path), address.host, address.port)


class VirtualDevice:
    """One virtual device: provisioned in ``conn.db_path``, staged in ``root``, run by ``micropython``.

    Parameters
    ----------
    conn : Connection
        From :func:`connection`.
    name : str
        Device id (default ``virtual-kiosk`` / ``virtual-handheld``); provisioned afresh each run.
    handheld : bool
        A handheld (role ``handheld``): the interview on its 40x15 screen, typed on a keyboard
        (:meth:`press` takes typed characters and ``del`` too).
    root : path, optional
        The device's filesystem (default: a temporary folder, removed by :meth:`close`).
    site : str
        Its site in the fleet list.
    """

    def __init__(self, conn: Connection, name: str | None = None, *, handheld: bool = False,
                 root: str | Path | None = None, site: str = "virtual", form: str | None = None):
        self.conn = conn
        self.handheld = handheld
        self.name = name or ("virtual-handheld" if handheld else "virtual-kiosk")
        self.cols, self.rows = HANDHELD_SCREEN if handheld else KIOSK_SCREEN
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix=f"tiesense-{self.name}-")) if root is None else Path(root)
        self.site = site
        self.role = "handheld" if handheld else "kiosk"
        self.form = form or ROLE_FORMS[self.role]
        self.keys_port = 0
        self.device: SimDevice | None = None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._read_at = 0
        self.screen = Screen(self.cols, self.rows)
        self.messages: list[str] = []  # the console's other lines (BOOT, UPLINK, KIOSK...), latest last

    def start(self) -> "VirtualDevice":
        """Provision, stage and start the device.

        Raises
        ------
        VirtualError
            The name is the host's own login, or micropython is missing.
        """
        from .devices import MissingTool
        from .provisioning import ProvisioningError, provision_afresh
        from .store import Store

        try:
            micropython = find_micropython()
        except MissingTool as e:
            raise VirtualError(str(e)) from None
        try:
            with Store(self.conn.db_path) as store:
                login = provision_afresh(store, self.name, self.site, broker_host=self.conn.broker_host,
                                         broker_port=self.conn.broker_port, role=self.role)
        except ProvisioningError as e:
            raise VirtualError(str(e)) from None
        config = {k: v for k, v in login.site_config.items()
                  if k not in ("device", "role", "broker_host", "broker_port")}
        self.keys_port = _free_udp_port()
        config.update(sim_keys_port=self.keys_port, sim_screen=f"{self.cols}x{self.rows}", form=self.form,
                      backoff_max_s=5)
        stage(self.root, self.name, f"mqtt://{self.conn.broker_host}:{self.conn.broker_port}", role=self.role,
              **config)
        self.device = SimDevice(self.root, micropython=micropython).start()
        return self

    def press(self, event: str) -> None:
        """Send ``event`` (one of :data:`EVENTS`; on a handheld also ``del`` or one typed character) to the
        device, as a button press."""
        typed = self.handheld and (event == "del" or (len(event) == 1 and " " <= event <= "~"))
        if event not in EVENTS and not typed:
            raise ValueError(f"{event!r} is not one of {', '.join(EVENTS)}")
        self._sock.sendto(event.encode(), ("127.0.0.1", self.keys_port))

    def update(self) -> bool:
        """Read what the device printed since the last call; True when a new screen is complete."""
        try:
            with open(self.device.output, "rb") as f:
                f.seek(self._read_at)
                data = f.read()
        except (OSError, AttributeError):
            return False
        end = data.rfind(b"\n") + 1  # whole lines only: the rest is read next time
        self._read_at += end
        changed = False
        for line in data[:end].decode(errors="replace").splitlines():
            if self.screen.feed(line):
                changed = True
            elif not line.startswith(_PREFIX) and line.strip():
                self.messages = (self.messages + [line])[-50:]
        return changed

    @property
    def running(self) -> bool:
        return self.device is not None and self.device.running

    def close(self) -> None:
        """Stop the device and remove its temporary filesystem."""
        if self.device is not None:
            self.device.stop()
        self._sock.close()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
