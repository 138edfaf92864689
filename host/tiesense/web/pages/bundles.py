"""plotly.js partial bundles from the npm registry: each chart page loads only the trace types it draws.

The full plotly.js of the ``plotly`` package is 4.6 MB, and a browser spends about a second compiling it
on a page's first visit (measured on this project's machine: ``bench/web.py``), most of the network page's
2 s. plotly publishes ready-made partial bundles on npm; the pages use two of them:

* ``network``: ``plotly.js-gl2d-dist-min`` (``scatter``, ``scattergl``: the WebGL network), 1.6 MB;
* ``overview``: ``plotly.js-cartesian-dist-min`` (``bar``, ``heatmap``, ``scatter``), 1.5 MB.

:func:`install` (``tiesense assets install``, run by ``scripts/bootstrap``) downloads each package's tarball
at the version pinned here and keeps it only if its SHA-512 matches the ``integrity`` pinned here (the
value npm's registry publishes for that version), so neither the registry nor the network can change the
code the pages run. :func:`script` reads the file out of a verified tarball when a page first needs it,
checking the digest again. Without an installed bundle a page loads plotly's full bundle, as before: the
pages work either way, only the first visit is slower.

Nothing of plotly.js is kept in this repository; the tarballs live in :func:`assets_dir`.

Examples
--------
>>> BUNDLES["network"].url
'https://registry.npmjs.org/plotly.js-gl2d-dist-min/-/plotly.js-gl2d-dist-min-3.7.0.tgz'
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

__all__ = ["Bundle", "BUNDLES", "BundleError", "assets_dir", "install", "installed", "script", "REGISTRY"]

#: npm's public registry (``$TIESENSE_NPM_REGISTRY`` overrides it, e.g. a company mirror).
REGISTRY = "https://registry.npmjs.org"


class BundleError(RuntimeError):
    """A bundle that could not be fetched or did not verify; the message says what to do."""


@dataclass(frozen=True)
class Bundle:
    """One npm package holding a minified plotly.js bundle, pinned to a version and its tarball's digest."""

    package: str
    version: str
    file: str  #: the bundle's path inside the tarball's ``package/`` folder
    integrity: str  #: ``sha512-<base64>``, as the registry's ``dist.integrity`` gives it

    @property
    def tarball(self) -> str:
        """The tarball's file name (as npm names it)."""
        return f"{self.package}-{self.version}.tgz"

    @property
    def url(self) -> str:
        registry = os.environ.get("TIESENSE_NPM_REGISTRY", REGISTRY).rstrip("/")
        return f"{registry}/{self.package}/-/{self.tarball}"

    def verify(self, data: bytes) -> None:
        """Raise BundleError unless ``data`` is this bundle's tarball."""
        algo, _, expected = self.integrity.partition("-")
        got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
        if got != expected:
            raise BundleError(f"{self.tarball} does not match its pinned {algo} digest (got {algo}-{got[:16]}..., "
                              f"want {self.integrity[:23]}...): it is not the published {self.package} "
                              f"{self.version}. Fetch it again from {REGISTRY} (tiesense assets install)")

    def extract(self, data: bytes) -> bytes:
        """The bundle's JavaScript out of a verified tarball."""
        self.verify(data)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            member = tar.extractfile(f"package/{self.file}")
            if member is None:
                raise BundleError(f"{self.tarball} has no package/{self.file}")
            return member.read()


#: The bundle each chart page loads (page name: bundle). gl2d's last release is 3.7.0 (plotly.js 4 has no
#: gl2d bundle); the cartesian bundle follows the plotly.js of the pinned plotly package.
BUNDLES = {
    "network": Bundle("plotly.js-gl2d-dist-min", "3.7.0", "plotly-gl2d.min.js",
                      "sha512-3vR+89HBYkuLNIx/DmIQbIG6JW+4Ok6MMuWVNYO4OsghZR2n0fB+XL241buc0YsvNWKtLV1YtRrPUiZmOdvBsw=="),
    "overview": Bundle("plotly.js-cartesian-dist-min", "4.1.1", "plotly-cartesian.min.js",
                       "sha512-o8GrFeusncwBIxbBynRJpY4pkgVB6caM+JLpwrLYbbsO7dZ8FJ+SVN2Fr+L7kiG/Z6w4P5O0Jus/Qr5EefHVeg=="),
}


def assets_dir() -> Path:
    """Where installed tarballs live: ``$TIESENSE_ASSETS``, else ``share/tiesense/plotly`` of the Python
    environment (``.venv/share/...`` after ``scripts/bootstrap``)."""
    env = os.environ.get("TIESENSE_ASSETS")
    return Path(env) if env else Path(sys.prefix) / "share" / "tiesense" / "plotly"


def installed(bundle: Bundle, where: Path | None = None) -> Path | None:
    """The installed tarball of ``bundle``, or None."""
    path = (where or assets_dir()) / bundle.tarball
    return path if path.is_file() else None


def _download(url: str, progress: Callable[[int, int], None] | None) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            total = int(r.headers.get("Content-Length") or 0)
            chunks, got = [], 0
            while True:
                chunk = r.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
                if progress:
                    progress(got, total)
            return b"".join(chunks)
    except OSError as e:  # URLError and HTTPError are OSErrors
        raise BundleError(f"could not fetch {url} ({e}). The dashboards work without it (plotly's full bundle, "
                          "slower to open); on a machine without the internet, download the tarball elsewhere "
                          "and run tiesense assets install --from DIR") from None


def install(bundles: Iterable[Bundle] | None = None, where: Path | None = None, source: Path | None = None,
            progress: Callable[[Bundle, int, int], None] | None = None) -> list[Path]:
    """Fetch (or take from ``source``, a folder of tarballs), verify and keep each bundle's tarball in
    ``where`` (default :func:`assets_dir`); already installed and verifying: kept. Returns the paths.

    Raises
    ------
    BundleError
        A tarball that cannot be fetched or does not match its pinned digest; nothing is written for it.
    """
    where = where or assets_dir()
    where.mkdir(parents=True, exist_ok=True)
    out = []
    for bundle in (BUNDLES.values() if bundles is None else bundles):
        target = where / bundle.tarball
        if target.is_file():
            try:
                bundle.verify(target.read_bytes())
                out.append(target)
                continue
            except BundleError:
                target.unlink()  # damaged or foreign: fetched again below
        if source is not None:
            path = Path(source) / bundle.tarball
            if not path.is_file():
                raise BundleError(f"{path} is missing: download {bundle.url} into {source}")
            data = path.read_bytes()
        else:
            data = _download(bundle.url, (lambda got, total, b=bundle: progress(b, got, total)) if progress else None)
        bundle.verify(data)
        fd, tmp = tempfile.mkstemp(dir=where, prefix=".fetch-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a service account reads it
        os.replace(tmp, target)
        out.append(target)
    return out


def script(page: str, where: Path | None = None) -> tuple[str, bytes, bytes] | None:
    """(version, JavaScript, the same gzipped) of the bundle of ``page``, if installed and verifying; None
    when the page has no bundle or it is not installed (the page then loads the full plotly.js)."""
    bundle = BUNDLES.get(page)
    path = installed(bundle, where) if bundle else None
    if path is None:
        return None
    body = bundle.extract(path.read_bytes())
    return bundle.version, body, gzip.compress(body, 6)
