"""A wheel that runs: built as a release is, installed in a clean venv, the demo stores records.

``python -m build`` makes the sdist from a copy of this working tree and the
wheel from that sdist, each in its own isolated build environment (real
setuptools and Cython from the package index). The wheel is installed with its
``sim`` extra into a new venv, and ``tiesense demo`` runs from a folder outside
the repository, with an audit hook recording every file the host process opens
and every program it starts: none may come from the source tree.

About 1.5 to 2 minutes on two cores: the build compiles the Cython kernels, the
install takes numpy and scipy from the index or pip's cache, and the demo runs
its 30 seconds.
"""
from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import tiesense

from .conftest import ROOT

# Build (~45 s), install (~15 s) and the demo's 30 s; fixtures' time counts against the test's timeout.
pytestmark = pytest.mark.timeout(900)

HOST_PKG = ROOT / "host" / "tiesense"
FIRMWARE = ROOT / "firmware"


def _env(**extra) -> dict:
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "TIESENSE_FIRMWARE"):
        env.pop(var, None)
    env.update(extra)
    return env


def _run(cmd, log: Path, timeout: float, **kw) -> subprocess.CompletedProcess:
    """Run ``cmd`` with its output in ``log``; fail the test with the log's tail if it fails."""
    with open(log, "wb") as f:
        proc = subprocess.run([str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              timeout=timeout, **kw)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n"
                    + log.read_text(errors="replace")[-4000:], pytrace=False)
    return proc


def _source_tree(dest: Path) -> Path:
    """Copy this working tree (tracked and new files, not what .gitignore ignores) to ``dest``.

    The build then never writes into the checkout (egg-info, generated C, build/), and
    leftovers of an editable install (the kernels' .so, .c) cannot leak into the wheel.
    """
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True)
    if listed.returncode == 0:
        for rel in filter(None, listed.stdout.decode().split("\0")):
            src = ROOT / rel
            if src.is_file():  # a tracked file may be deleted in the working tree
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
    else:  # not a git checkout (an unpacked sdist)
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "__pycache__", ".hypothesis", ".pytest_cache", "*.egg-info",
            "*.so", "*.c", "*.db", "*.db-*", "*.mpy"))
    return dest


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> tuple[Path, Path]:
    """(sdist, wheel) built by ``python -m build`` from a copy of the working tree."""
    try:
        import build  # noqa: F401
    except ImportError:
        pytest.fail("the 'build' package is not installed: run scripts/bootstrap --test", pytrace=False)
    work = tmp_path_factory.mktemp("wheel-build")
    src = _source_tree(work / "src")
    out = work / "dist"
    _run([sys.executable, "-m", "build", "--outdir", out, src], work / "build.log", timeout=600, env=_env())
    sdists, wheels = sorted(out.glob("tiesense-*.tar.gz")), sorted(out.glob("tiesense-*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in out.iterdir())
    return sdists[0], wheels[0]


@pytest.fixture(scope="module")
def venv(dists, tmp_path_factory):
    """A new venv (no system site-packages) with only the wheel and its ``sim`` extra installed."""
    _, wheel = dists
    work = tmp_path_factory.mktemp("wheel-venv")
    env_dir = work / "venv"
    _run([sys.executable, "-m", "venv", env_dir], work / "venv.log", timeout=300, env=_env())
    py = env_dir / "bin" / "python"
    _run([py, "-m", "pip", "install", "--no-input", f"{wheel}[sim]"], work / "pip.log", timeout=600, env=_env())
    yield env_dir
    shutil.rmtree(env_dir, ignore_errors=True)  # ~300 MB (numpy, scipy, micropython); the logs stay


def _firmware_sources() -> list[str]:
    return sorted(p.relative_to(FIRMWARE).as_posix() for p in FIRMWARE.rglob("*.py") if "__pycache__" not in p.parts)


def test_wheel_carries_firmware_instruments_and_compiled_kernels(dists, firmware_version):
    _, wheel = dists
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped_fw = sorted(n[len("tiesense/firmware/"):] for n in names if n.startswith("tiesense/firmware/"))
    assert shipped_fw == _firmware_sources()
    for rel in ("main.py", "config.py", "log.py", "mqtt.py", "uplink.py", "board/picow.py", "board/sim.py"):
        assert f"tiesense/firmware/{rel}" in names, rel
    assert "tiesense/wire.py" in names  # devices get wire.py from the package at stage time
    for form in sorted((HOST_PKG / "instruments").glob("*.json")):
        assert f"tiesense/instruments/{form.name}" in names, form.name
    xlsforms = sorted((HOST_PKG / "instruments" / "xlsform").glob("*.md"))  # what `tiesense forms new` writes
    assert xlsforms and all(f"tiesense/instruments/xlsform/{f.name}" in names for f in xlsforms)
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    for pyx in sorted(HOST_PKG.rglob("*.pyx")):
        module = "tiesense/" + pyx.relative_to(HOST_PKG).with_suffix("").as_posix()
        assert module + suffix in names, f"{module}{suffix} (compiled kernel) missing from the wheel"
    assert not [n for n in names if n.endswith(".c")], "generated C belongs in the sdist only"
    meta = zipfile.ZipFile(wheel).read(f"tiesense-{tiesense.__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {tiesense.__version__}\n" in meta
    config = zipfile.ZipFile(wheel).read("tiesense/firmware/config.py").decode()
    assert firmware_version(config) == tiesense.__version__  # what an installed kiosk reports


def test_sdist_carries_firmware_and_kernel_sources(dists):
    sdist, _ = dists
    top = f"tiesense-{tiesense.__version__}/"
    with tarfile.open(sdist) as tar:
        names = {n[len(top):] for n in tar.getnames() if n.startswith(top)}
    for rel in _firmware_sources():
        assert f"firmware/{rel}" in names, rel
    for path in sorted(HOST_PKG.rglob("*.pyx")) + sorted(HOST_PKG.rglob("*.pxd")) \
            + sorted((HOST_PKG / "instruments").glob("*.json")):
        assert path.relative_to(ROOT).as_posix() in names, path.name
    assert {"pyproject.toml", "setup.py", "MANIFEST.in", "README.md"} <= names


# Runs the installed ``tiesense`` script under an audit hook that records, as absolute
# paths, every file the host process opens (imports included), every folder it lists
# and every program it starts, and writes them to $AUDIT_LOG at exit.
AUDITED_SCRIPT = r"""
import atexit, json, os, runpy, sys
_seen = set()
def _hook(event, args):
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _seen.add((event, os.path.abspath(os.fsdecode(args[0]))))
    elif event == "subprocess.Popen":
        exe, argv = args[0], args[1]
        prog = exe if exe is not None else (argv if isinstance(argv, (str, bytes)) else argv[0])
        _seen.add((event, os.fsdecode(prog)))
def _dump(log=os.environ["AUDIT_LOG"]):
    with open(log, "w") as f:
        json.dump(sorted(_seen), f)
sys.addaudithook(_hook)
atexit.register(_dump)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_demo_from_the_wheel_stores_records_without_the_source_tree(venv, tmp_path):
    bindir = venv / "bin"
    elsewhere = tmp_path / "elsewhere"  # the working directory: nothing of the repository is near
    elsewhere.mkdir()
    db = tmp_path / "demo.db"
    audit = tmp_path / "audit.json"
    dev_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join([str(bindir)] + [p for p in os.environ.get("PATH", "").split(os.pathsep) if p != dev_bin])
    env = _env(PATH=path, AUDIT_LOG=str(audit))

    version = subprocess.run([bindir / "tiesense", "--version"], capture_output=True, text=True, timeout=60,
                             cwd=elsewhere, env=env)
    assert version.returncode == 0 and version.stdout.strip() == f"tiesense, version {tiesense.__version__}", \
        version.stdout + version.stderr

    log = tmp_path / "demo.log"
    # Something (a Mosquitto, say) already listens on the standard port: the demo must not need it.
    with socket.socket() as standard_port:
        try:
            standard_port.bind(("127.0.0.1", 1883))
            standard_port.listen()
        except OSError:
            pass  # already taken by something else: the same situation
        _run([bindir / "python", "-I", "-c", AUDITED_SCRIPT, bindir / "tiesense",
              "demo", "--duration", "30", "--kiosks", "1", "--db", db],
             log, timeout=240, cwd=elsewhere, env=env)
    out = log.read_text(errors="replace")
    banner = [line for line in out.splitlines() if line.startswith("tiesense demo: broker mqtt://127.0.0.1:")]
    assert banner, out[-3000:]
    port = int(banner[0].split("mqtt://127.0.0.1:")[1].split(",")[0])
    assert port != 1883, "the demo's embedded broker must take a free port, not the standard one"

    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        devices = {r[0] for r in conn.execute("SELECT DISTINCT device FROM records")}
    assert stored > 0, f"the demo stored no records:\n{out[-3000:]}"
    assert devices == {"kiosk-01", "handheld-01"}  # the kiosk's surveys and the demo's interview wave
    assert f"stopped: {stored} records stored" in out, out[-3000:]

    events = [tuple(e) for e in json.loads(audit.read_text())]
    root, tmp = ROOT.resolve(), tmp_path.resolve()

    def in_source_tree(p: str) -> bool:
        q = Path(p).resolve()
        return q.is_relative_to(root) and not q.is_relative_to(tmp)

    used = sorted({p for _, p in events if in_source_tree(p)})
    assert not used, "the installed demo used files of the source tree:\n" + "\n".join(used[:20])
    site = Path(subprocess.run([bindir / "python", "-I", "-c", "import tiesense; print(tiesense.__file__)"],
                               capture_output=True, text=True, env=env, cwd=elsewhere).stdout.strip()).parent
    assert site.is_relative_to(venv.resolve()) or site.is_relative_to(venv), site
    opened = {Path(p).resolve() for e, p in events if e == "open"}
    assert (site / "firmware" / "main.py").resolve() in opened, "the kiosk was not staged from the wheel's firmware"
    assert (site / "wire.py").resolve() in opened and (site / "instruments" / "tp_visit.json").resolve() in opened
    started = {p for e, p in events if e == "subprocess.Popen"}
    assert started and all(Path(p).parent == bindir for p in started), started  # the venv's micropython
