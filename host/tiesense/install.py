"""Put a staged image (``deploy.stage_image``) onto a board over USB with mpremote.

One ``python -m mpremote`` run does it all over one connection:

1. ``connect PORT``, which interrupts the running firmware (Ctrl-C) and soft-resets
   into the raw REPL, so no file is open while it is replaced;
2. ``exec`` a few lines that make the image's folders and delete the twin of every
   module it installs (a stale ``log.py`` would shadow the new ``log.mpy``:
   MicroPython imports ``.py`` first) and the simulator board; nothing else, so the
   device's ``data/`` (its record log: unacknowledged surveys) and boot count stay;
3. ``fs cp`` of every file, ``site.json`` last (a cable pulled before it leaves the
   device with the old settings, not new firmware talking to the old broker);
4. ``exec`` a check that prints each file's size on the device, compared here;
5. ``reset`` (``machine.reset()``): the board boots the new firmware.

:func:`mpremote_argv` is that command line (shown by ``tiesense firmware deploy
--dry-run``); :func:`install` runs it with a progress bar fed by mpremote's
``cp`` lines. ``reset=False`` connects with ``resume`` and skips both resets:
what the MicroPython unix port needs, where a soft reset (Ctrl-D in the raw REPL)
ends the process (tests/test_install.py drives it over a socat pty pair).

Examples
--------
>>> from tiesense.install import mpremote_argv
>>> argv = mpremote_argv(["main.py", "board/base.mpy", "site.json"], "/dev/ttyACM0", python="python")
>>> " ".join(argv[:5]), argv[-1]
('python -m mpremote connect /dev/ttyACM0', 'reset')
>>> [a for a in argv if a.startswith(":")]
[':board/base.mpy', ':main.py', ':site.json']
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

__all__ = ["InstallError", "Installed", "install", "mpremote_argv", "SIZES_TAG"]

#: Marks the line the size check prints on the device.
SIZES_TAG = "TIESENSE-SIZES"
#: Never deleted or overwritten: the record log and boot count (data/ is not in any image).
_KEEP = ("data",)
#: The simulator board: removed from a board unless the image brings it.
_SIM = ("board/sim.py", "board/sim.mpy")


class InstallError(RuntimeError):
    """mpremote failed or the device does not hold what was sent; the message carries its output."""


@dataclass
class Installed:
    port: str
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    removed: list[str] = field(default_factory=list)  # stale twins asked to be deleted (whether present or not)
    output: str = ""


def _ordered(files: Iterable[str]) -> list[str]:
    files = [f for f in files if f.split("/")[0] not in _KEEP]
    return sorted(files, key=lambda f: (f == "site.json", f))


def _stale(files: list[str]) -> list[str]:
    """Twins of the installed modules (.py for .mpy and back, never main.py) and the simulator board."""
    have = set(files)
    out = []
    for f in files:
        if f.endswith(".mpy"):
            out.append(f[:-4] + ".py")
        elif f.endswith(".py") and f != "main.py":
            out.append(f[:-3] + ".mpy")
    out += [s for s in _SIM if s not in have]
    return sorted(set(out) - have)


def _prepare_script(files: list[str]) -> str:
    dirs = sorted({"/".join(f.split("/")[:i]) for f in files for i in range(1, f.count("/") + 1)})
    return ("import os\n"
            "for d in %r:\n"
            " try:\n  os.mkdir(d)\n except OSError:\n  pass\n"
            "for p in %r:\n"
            " try:\n  os.remove(p)\n except OSError:\n  pass\n") % (tuple(dirs), tuple(_stale(files)))


def _check_script(files: list[str]) -> str:
    return ("import os\n"
            "r = []\n"
            "for p in %r:\n"
            " try:\n  r.append(os.stat(p)[6])\n except OSError:\n  r.append(-1)\n"
            "print(%r, ' '.join([str(n) for n in r]))\n") % (tuple(files), SIZES_TAG)


def mpremote_argv(files: Iterable[str], port: str, *, reset: bool = True, python: str | None = None) -> list[str]:
    """The one mpremote command line that installs ``files`` (paths relative to the image, run there).

    Parameters
    ----------
    files : iterable of str
        The image's files (``Image.files``); a ``data/`` entry is never sent.
    port : str
        The board's serial port (``/dev/ttyACM0``, ``COM3``) or a pty.
    reset : bool
        Soft-reset on connect and hard-reset at the end (a Pico W). False: ``resume`` and
        no reset (the unix port, where a soft reset ends the process).
    python : str, optional
        The interpreter that runs ``-m mpremote`` (default: this one).
    """
    files = _ordered(files)
    argv = [python or sys.executable, "-m", "mpremote", "connect", port]
    if not reset:
        argv.append("resume")
    argv += ["exec", _prepare_script(files)]
    for f in files:
        argv += ["+", "fs", "cp", f, ":" + f]
    argv += ["+", "exec", _check_script(files)]
    if reset:
        argv += ["+", "reset"]
    return argv


def install(root: str | Path, files: Iterable[str], port: str, *, reset: bool = True,
            progress: Callable[[str], None] | None = None, timeout: float = 300.0) -> Installed:
    """Copy ``files`` of the staged image in ``root`` onto the board at ``port`` with mpremote.

    ``progress(name)`` is called as each file starts copying. Raises InstallError when
    mpremote fails (no board, port busy, a full filesystem) or a file's size on the
    device differs from the image's.
    """
    root = Path(root)
    files = _ordered(files)
    argv = mpremote_argv(files, port, reset=reset)
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # the cp lines as they happen, for the progress bar
    lines = []
    try:
        proc = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, errors="replace")
    except OSError as e:
        raise InstallError(f"cannot run mpremote: {e}") from None
    try:
        for line in proc.stdout:
            lines.append(line)
            if progress is not None and line.startswith("cp ") and " :" in line:
                progress(line[3:].split(" :", 1)[0].strip())
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise InstallError(f"mpremote did not finish within {timeout:g} s:\n{''.join(lines)[-2000:]}") from None
    finally:
        if proc.stdout:
            proc.stdout.close()
    output = "".join(lines)
    if rc != 0:
        hint = ""
        if "could not enter raw repl" in output or "failed to access" in output.lower():
            hint = " (is the port right, and no other program, e.g. a serial console or tiesense pull, using it?)"
        raise InstallError(f"mpremote failed on {port}{hint}:\n{output[-2000:]}")
    sizes = next((ln.split()[1:] for ln in output.splitlines() if ln.startswith(SIZES_TAG)), None)
    want = [(root / f).stat().st_size for f in files]
    if sizes is None or [int(s) for s in sizes] != want:
        bad = [f for f, w, g in zip(files, want, sizes or []) if int(g) != w]
        raise InstallError(f"the device at {port} does not hold what was sent ({', '.join(bad) or 'no size check'}):"
                           f"\n{output[-2000:]}")
    return Installed(port, files, sum(want), _stale(files), output)
