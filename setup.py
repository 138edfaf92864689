"""Build the Cython kernels: every ``.pyx`` under ``host/tiesense`` becomes an extension module."""
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

HOST = Path(__file__).parent / "host"

extensions = [
    Extension(
        ".".join(pyx.relative_to(HOST).with_suffix("").parts),
        [str(pyx.relative_to(Path(__file__).parent))],
        extra_compile_args=["-O3"],
    )
    for pyx in sorted(HOST.rglob("*.pyx"))
]

setup(
    # Directives (boundscheck, wraparound...) live in each kernel's header, set
    # only where that kernel's indices are proven in range.
    ext_modules=cythonize(extensions, language_level=3)
)
