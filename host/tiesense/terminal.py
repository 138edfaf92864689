"""``tiesense kiosk --sim`` in a terminal: the virtual device's screen in a box, keys as buttons.

The terminal is put in raw mode; arrow keys up/down move, Enter or the right arrow is
``ok``, Backspace or the left arrow is ``back``, ``p`` is someone walking up (the presence
sensor), ``q`` or Ctrl-C quits. A handheld has a keyboard: what is typed goes to the device
(its CardKB), Backspace deletes, Esc or the left arrow is ``back``, and Ctrl-C quits. Under the box: the device's latest console messages and how
many of its records the host has stored, so a newcomer sees the survey they answered arrive.

Examples
--------
>>> decode_keys(b"\\x1b[B\\x1b[Ax\\r\\x7fp")
['down', 'up', 'ok', 'back', 'presence']
>>> decode_keys(b"\\x03")
['quit']
>>> decode_keys(b"Ab1\\x7f\\x1b\\r", typing=True)
['A', 'b', '1', 'del', 'back', 'ok']
>>> print(box(["Hi", "there"], 5))
+-----+
|Hi   |
|there|
+-----+
"""
from __future__ import annotations

import os
import select
import shutil
import sys
import time
from pathlib import Path

from .virtual import VirtualDevice, VirtualError, connection

__all__ = ["decode_keys", "box", "render", "run_terminal", "open_session"]

_SEQUENCES = {
    b"\x1b[A": "up", b"\x1bOA": "up", b"\x1b[B": "down", b"\x1bOB": "down",
    b"\x1b[C": "ok", b"\x1bOC": "ok", b"\x1b[D": "back", b"\x1bOD": "back",
}
_SINGLE = {b"\r": "ok", b"\n": "ok", b" ": "ok", b"\x7f": "back", b"\x08": "back", b"p": "presence",
           b"q": "quit", b"\x03": "quit", b"\x04": "quit"}
HELP = "up/down: arrows  ok: Enter  back: Backspace  p: someone walks up  q: quit"
HELP_HANDHELD = "type to answer or find  up/down: arrows  ok: Enter  back: Esc  delete: Backspace  quit: Ctrl-C"
_TYPING = {b"\r": "ok", b"\n": "ok", b"\x7f": "del", b"\x08": "del", b"\x1b": "back", b"\x03": "quit",
           b"\x04": "quit"}


def decode_keys(data: bytes, typing: bool = False) -> list[str]:
    """Device events (and ``quit``) from bytes read off a raw-mode terminal; other keys are ignored.
    ``typing`` (a handheld): printable characters are typed characters, Backspace ``del``, Esc ``back``."""
    out, i = [], 0
    while i < len(data):
        three = data[i:i + 3]
        if three in _SEQUENCES:
            out.append(_SEQUENCES[three])
            i += 3
            continue
        one = data[i:i + 1]
        if typing and one in _TYPING:
            out.append(_TYPING[one])
        elif typing and b" " <= one <= b"~":
            out.append(one.decode())
        elif not typing and one in _SINGLE:
            out.append(_SINGLE[one])
        i += 1
    return out


def box(lines: list[str], cols: int) -> str:
    """The screen's lines in an ASCII frame ``cols`` wide."""
    edge = "+" + "-" * cols + "+"
    return "\n".join([edge] + [f"|{ln[:cols]:<{cols}}|" for ln in lines] + [edge])


def render(dev: VirtualDevice, stored: int | None) -> str:
    """The whole terminal picture: title, screen, help, console messages, the host's count."""
    kind = "handheld" if dev.handheld else "kiosk"
    width = max(dev.cols + 2, shutil.get_terminal_size((80, 24)).columns - 1)
    msgs = [m[:width] for m in dev.messages[-5:]]
    host = (f"host: {stored} record(s) from {dev.name} stored in {dev.conn.db_path}" if stored is not None
            else f"host: database {dev.conn.db_path}")
    parts = [f"tiesense virtual {kind} {dev.name} (real firmware under micropython)",
             box(dev.screen.lines, dev.cols), HELP_HANDHELD if dev.handheld else HELP, "", *msgs, "", host]
    return "\x1b[H\x1b[2J" + "\n".join(parts).replace("\n", "\r\n") + "\r\n"


def _stored(store, device: str) -> int | None:
    """How many of ``device``'s records the host has stored (None while the database is busy)."""
    import sqlite3

    from .store import records

    try:
        return store.read(records.page_records, device=device, limit=0)[1]
    except sqlite3.Error:
        return None


def run_terminal(dev: VirtualDevice, stdin=None, out=None) -> int:
    """Draw ``dev`` and send it keys until ``q``/Ctrl-C or the device stops; return the device's exit
    code (None while it ran: 0). The terminal is restored whatever happens."""
    import termios
    import tty

    from .store import Store

    stdin = stdin if stdin is not None else sys.stdin
    out = out if out is not None else sys.stdout
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    store = Store(dev.conn.db_path)
    tty.setraw(fd)
    last_count, stored, dirty = 0.0, None, True
    try:
        while dev.running:
            if dev.update():
                dirty = True
            now = time.monotonic()
            if now - last_count > 1.0:
                last_count, new = now, _stored(store, dev.name)
                dirty, stored = dirty or new != stored, new
            if dirty:
                out.write(render(dev, stored))
                out.flush()
                dirty = False
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                for event in decode_keys(os.read(fd, 64), typing=dev.handheld):
                    if event == "quit":
                        return 0
                    dev.press(event)
        dev.update()
        return dev.device.returncode or 0
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        store.close()
        out.write("\r\n")
        out.flush()


def open_session(db_path: str | Path, broker: str | None = None, *, handheld: bool = False,
                 name: str | None = None, echo=print):
    """A started VirtualDevice and the in-process host it needed (or None), as ``(device, host)``.

    With no ``broker`` and no host serving ``db_path``, a host with an embedded broker is
    started here on that database (a free port), so ``tiesense kiosk --sim`` works alone.
    """
    from .commands import login_file

    host = None
    if broker is None and not login_file(db_path).exists():
        from .service import Host, HostError

        try:
            host = Host(db_path, embedded_port=0).start()
        except HostError as e:
            raise VirtualError(f"no host with an embedded broker serves {db_path}, and one cannot start here ({e}): "
                               "run 'tiesense serve --db DB' or give --broker") from None
        echo(f"no host was serving {db_path}: started one here, broker {host.broker_url}")
    try:
        dev = VirtualDevice(connection(db_path, broker), name, handheld=handheld).start()
        if host is not None:
            # the forms again, signed for the device's site too (a host serving elsewhere signs for
            # the sites it knew at its start: the device refuses those forms and keeps its own)
            host.publish_forms()
    except BaseException:
        if host is not None:
            host.stop()
        raise
    return dev, host
