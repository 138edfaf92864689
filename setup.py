"""Build the Cython kernels and ship the device firmware inside the package.

Every ``.pyx`` under ``host/tiesense`` becomes an extension module. The
firmware stays at the top of the repository (``firmware/``, MicroPython); a
wheel carries it as ``tiesense/firmware/`` so that ``tiesense demo`` and
``devices.stage`` find it without the source tree. An editable install reads
``firmware/`` in place (``devices.firmware_dir``).
"""
import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
HOST = ROOT / "host"
FIRMWARE = ROOT / "firmware"
FIRMWARE_IN_PACKAGE = ("tiesense", "firmware")

extensions = [
    Extension(
        ".".join(pyx.relative_to(HOST).with_suffix("").parts),
        [str(pyx.relative_to(ROOT))],
        extra_compile_args=["-O3"],
    )
    for pyx in sorted(HOST.rglob("*.pyx"))
]


def firmware_files() -> list[Path]:
    """The device's files: every ``.py`` under firmware/ (what ``devices.stage`` copies)."""
    return [p.relative_to(FIRMWARE) for p in sorted(FIRMWARE.rglob("*.py")) if "__pycache__" not in p.parts]


class build_py_with_firmware(build_py):
    """build_py, plus firmware/**.py copied to ``<build_lib>/tiesense/firmware/``.

    Not in editable mode: there the package is imported from host/ and the
    firmware is read from firmware/ itself.
    """

    def _firmware_targets(self) -> list[tuple[Path, Path]]:
        dest = Path(self.build_lib, *FIRMWARE_IN_PACKAGE)
        return [(FIRMWARE / rel, dest / rel) for rel in firmware_files()]

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        targets = self._firmware_targets()
        if not targets:
            raise SystemExit(f"no firmware under {FIRMWARE}: the package would not run its devices")
        for src, dst in targets:
            self.mkpath(str(dst.parent))
            self.copy_file(str(src), str(dst), preserve_mode=False)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [str(dst) for _, dst in self._firmware_targets()]


setup(
    # Directives (boundscheck, wraparound...) live in each kernel's header, set
    # only where that kernel's indices are proven in range.
    ext_modules=cythonize(extensions, language_level=3),
    cmdclass={"build_py": build_py_with_firmware},
    # Compile the kernels side by side: each is ~1 MB of generated C at -O3.
    options={"build_ext": {"parallel": os.cpu_count() or 1}},
)
