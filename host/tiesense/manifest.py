"""The firmware's manifest (``firmware/manifest.py``, micropython-lib style) read on the host.

MicroPython's own ``tools/manifestfile.py`` runs a manifest as Python with
``metadata()``, ``module()``, ``package()``, ``include()`` and ``require()``
in scope; so does :func:`read_manifest`, with the same signatures, to list
the files ``tiesense firmware build`` compiles. The same file can then be
``include()``-d by a board manifest to freeze the firmware into a MicroPython
build. ``require()`` (a micropython-lib package) is refused: the firmware
carries its own code, and a dependency nobody installs would fail on site.

Examples
--------
>>> from tiesense.manifest import read_manifest
>>> from tiesense.devices import firmware_dir
>>> m = read_manifest(firmware_dir() / "manifest.py")
>>> "main.py" in [f.dest for f in m.files] and "board/picow.py" in [f.dest for f in m.files]
True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Manifest", "ManifestError", "ManifestFile", "read_manifest"]


class ManifestError(ValueError):
    """A manifest that lists something missing, twice, or outside what the host reader supports."""


@dataclass(frozen=True)
class ManifestFile:
    """One file of the firmware: where it is on the host, and its path on the device."""

    source: Path
    dest: str  # e.g. "board/picow.py"

    @property
    def module(self) -> str:
        """The dotted import name (``board.picow``; ``board`` for ``board/__init__.py``)."""
        parts = self.dest[:-3].split("/")
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@dataclass
class Manifest:
    path: Path
    description: str | None = None
    version: str | None = None
    files: list[ManifestFile] = field(default_factory=list)

    @property
    def modules(self) -> set[str]:
        return {f.module for f in self.files}


def read_manifest(path: str | Path, sources: dict[str, Path] | None = None) -> Manifest:
    """Run ``path`` the way MicroPython's manifestfile.py does and return what it lists.

    Parameters
    ----------
    path : path
        A manifest.py using ``metadata``, ``module``, ``package`` and ``include``
        (relative paths are from the manifest's folder; ``opt`` is accepted and ignored).
    sources : dict, optional
        Device paths whose host file is this one instead of the listed one: the
        host gives its own ``wire.py``, since an installed wheel has no ``host/``
        folder beside the firmware it ships.

    Raises
    ------
    ManifestError
        A listed file that does not exist, a device path listed twice, ``require()``,
        or a ``package()`` without ``files`` (this reader does not walk folders: list them).
    """
    path = Path(path).resolve()
    man = Manifest(path)
    seen: dict[str, Path] = {}

    def add(source: Path, dest: str):
        source = Path((sources or {}).get(dest, source))
        if not source.is_file():
            raise ManifestError(f"{path}: lists {dest}, but {source} does not exist")
        if not dest.endswith(".py"):
            raise ManifestError(f"{path}: {dest} is not a .py module")
        if dest in seen:
            raise ManifestError(f"{path}: {dest} is listed twice ({seen[dest]} and {source})")
        seen[dest] = source
        man.files.append(ManifestFile(source, dest))

    def run(manifest: Path, top: bool):
        base = manifest.parent

        def metadata(description=None, version=None, license=None, author=None):
            if top:
                man.description, man.version = description, version

        def module(module_path, base_path=".", opt=None):
            add((base / base_path / module_path).resolve(), Path(module_path).as_posix())

        def package(package_path, files=None, base_path=".", opt=None):
            if files is None:
                raise ManifestError(f"{manifest}: package({package_path!r}) needs files=(...): list every module")
            for name in files:
                rel = f"{Path(package_path).as_posix()}/{name}"
                add((base / base_path / rel).resolve(), rel)

        def include(manifest_path, is_require=False, **kwargs):
            inner = (base / manifest_path).resolve()
            run(inner / "manifest.py" if inner.is_dir() else inner, False)

        def require(name, version=None, unix_ffi=False, pypi=None, **kwargs):
            raise ManifestError(f"{manifest}: require({name!r}): the firmware carries its own code, "
                                "no micropython-lib packages")

        code = compile(manifest.read_text(encoding="utf-8"), str(manifest), "exec")
        exec(code, {"metadata": metadata, "module": module, "package": package, "include": include,
                    "require": require, "__file__": str(manifest)})

    run(path, True)
    return man
