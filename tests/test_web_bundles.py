"""The chart pages' partial plotly.js bundles (tiesense.web.pages.bundles): fetched over real HTTP from a
registry, kept only when the tarball's SHA-512 matches the pinned one, served gzipped to the page that
draws with it, and the full plotly.js of the plotly package when a bundle is missing or damaged.

The fetching tests serve their own tarballs from a local HTTP server (the code path of npm's registry,
without depending on the internet in a test); the last test checks the bundles that ``scripts/bootstrap``
installed from npm for this environment are the pinned ones."""
from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiesense.cli import main
from tiesense.web.pages import bundles, render


def tarball(js: bytes, name: str = "plotly-test.min.js") -> bytes:
    """An npm-style tarball (``package/...``) holding ``js`` as ``name``."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path, data in ((f"package/{name}", js), ("package/package.json", b'{"name": "test"}')):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def registry(monkeypatch):
    """A local HTTP server in npm's URL layout; ``files`` maps a URL path to the bytes it serves."""
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TIESENSE_NPM_REGISTRY", f"http://127.0.0.1:{server.server_port}")
    yield files
    server.shutdown()
    server.server_close()


def serve(files: dict, bundle: bundles.Bundle, data: bytes) -> None:
    files[f"/{bundle.package}/-/{bundle.tarball}"] = data


def test_install_fetches_verifies_and_keeps_the_tarball(registry, tmp_path):
    js = b"window.Plotly = {version: 'test'};\n" * 2000
    data = tarball(js)
    bundle = bundles.Bundle("plotly.js-test-dist-min", "1.2.3", "plotly-test.min.js", integrity(data))
    serve(registry, bundle, data)
    seen = []
    paths = bundles.install([bundle], where=tmp_path, progress=lambda b, got, total: seen.append((b, got, total)))
    assert paths == [tmp_path / "plotly.js-test-dist-min-1.2.3.tgz"] and paths[0].read_bytes() == data
    assert bundle.extract(paths[0].read_bytes()) == js
    assert seen and seen[-1] == (bundle, len(data), len(data))  # the progress reached the whole download
    assert [p.name for p in tmp_path.iterdir()] == [paths[0].name]  # no temporary file left behind
    registry.clear()  # installed and verifying: not fetched again
    assert bundles.install([bundle], where=tmp_path) == paths


def test_a_tarball_that_does_not_match_its_pinned_digest_is_refused_and_not_kept(registry, tmp_path):
    good = tarball(b"var good = 1;")
    bundle = bundles.Bundle("plotly.js-test-dist-min", "1.2.3", "plotly-test.min.js", integrity(good))
    serve(registry, bundle, tarball(b"var evil = 1;"))  # what a compromised mirror or network would send
    with pytest.raises(bundles.BundleError, match="does not match its pinned sha512 digest.*tiesense assets install"):
        bundles.install([bundle], where=tmp_path)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / bundle.tarball).write_bytes(b"damaged on disk")  # an installed copy that no longer verifies
    serve(registry, bundle, good)
    bundles.install([bundle], where=tmp_path)
    assert (tmp_path / bundle.tarball).read_bytes() == good


def test_an_unreachable_registry_says_the_pages_still_work_and_how_to_install_offline(registry, tmp_path):
    bundle = bundles.Bundle("plotly.js-test-dist-min", "1.2.3", "plotly-test.min.js", integrity(b"x"))
    with pytest.raises(bundles.BundleError, match="work without it.*--from DIR"):
        bundles.install([bundle], where=tmp_path)  # 404: the registry has no such tarball
    src = tmp_path / "downloads"
    src.mkdir()
    with pytest.raises(bundles.BundleError, match="is missing: download http"):
        bundles.install([bundle], where=tmp_path, source=src)


def fake_bundles(monkeypatch, where: Path) -> dict[str, bytes]:
    """Replace the pinned bundles with two local ones installed in ``where``; returns each page's script."""
    scripts, pinned = {}, {}
    for page in ("network", "overview"):
        js = f"/* {page} */ window.Plotly = {{}};".encode()
        data = tarball(js, f"plotly-{page}.min.js")
        pinned[page] = bundles.Bundle(f"plotly.js-{page}-dist-min", "9.9.9", f"plotly-{page}.min.js", integrity(data))
        (where / pinned[page].tarball).write_bytes(data)
        scripts[page] = js
    for thread in threading.enumerate():  # the app's warm-up reads the installed bundles: let it finish first
        if thread.name == "tiesense-pages-warm":
            thread.join()
    monkeypatch.setattr(bundles, "BUNDLES", pinned)
    monkeypatch.setenv("TIESENSE_ASSETS", str(where))
    render._bundle.cache_clear()
    return scripts


def test_each_chart_page_loads_its_installed_bundle_gzipped(web, monkeypatch, tmp_path):
    scripts = fake_bundles(monkeypatch, tmp_path)
    try:
        for page in ("network", "overview"):
            html = web.get(f"/{page}", "analyst").text
            assert f'<script src="/assets/plotly/{page}.js?v=9.9.9"></script>' in html
            assert "/assets/plotly.js" not in html
            r = web.get(f"/assets/plotly/{page}.js", "viewer")
            assert r.status_code == 200 and r.content == scripts[page]  # the client undoes the gzip
            assert r.headers["content-encoding"] == "gzip" and "immutable" in r.headers["cache-control"]
        assert web.get("/assets/plotly/network.js").status_code == 401
        assert web.get("/assets/plotly/fleet.js", "viewer").status_code == 404
    finally:
        render._bundle.cache_clear()


def test_a_missing_or_damaged_bundle_falls_back_to_plotlys_full_bundle(web, monkeypatch, tmp_path, caplog):
    fake_bundles(monkeypatch, tmp_path)
    (tmp_path / bundles.BUNDLES["network"].tarball).write_bytes(b"damaged")
    (tmp_path / bundles.BUNDLES["overview"].tarball).unlink()
    try:
        network = web.get("/network", "analyst").text
        assert '<script src="/assets/plotly.js?v=' in network
        assert "not used" in caplog.text and "does not match" in caplog.text  # the operator is told why
        assert '<script src="/assets/plotly.js?v=' in web.get("/overview", "viewer").text
        r = web.get("/assets/plotly/overview.js", "viewer")
        assert r.status_code == 404 and "tiesense assets install" in r.text
    finally:
        render._bundle.cache_clear()


def test_the_cli_installs_from_a_folder_of_tarballs(monkeypatch, tmp_path):
    src, dest = tmp_path / "downloads", tmp_path / "assets"
    src.mkdir()
    pinned = {}
    for page in ("network", "overview"):
        data = tarball(b"var x;", f"plotly-{page}.min.js")
        pinned[page] = bundles.Bundle(f"plotly.js-{page}-dist-min", "9.9.9", f"plotly-{page}.min.js", integrity(data))
        (src / pinned[page].tarball).write_bytes(data)
    monkeypatch.setattr(bundles, "BUNDLES", pinned)
    monkeypatch.setenv("TIESENSE_ASSETS", str(dest))
    r = CliRunner().invoke(main, ["assets", "install", "--from", str(src)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in dest.iterdir()) == sorted(b.tarball for b in pinned.values())
    assert f"the dashboards load these from {dest}" in r.output
    (src / pinned["network"].tarball).write_bytes(b"tampered")
    (dest / pinned["network"].tarball).unlink()
    r = CliRunner().invoke(main, ["assets", "install", "--from", str(src)])
    assert r.exit_code == 1 and "does not match its pinned sha512 digest" in r.output


def test_the_pinned_bundles_are_installed_here():
    """scripts/bootstrap ran ``tiesense assets install``: the pages of this environment load the bundles
    (test_web_pages_browser.py checks the network page draws with its bundle)."""
    for page, bundle in bundles.BUNDLES.items():
        path = bundles.installed(bundle)
        assert path is not None, f"{bundle.tarball} is not in {bundles.assets_dir()}: run tiesense assets install"
        version, js, packed = bundles.script(page)
        assert version == bundle.version and gzip.decompress(packed) == js
        assert js.startswith(b"/**\n* plotly.js") and len(js) < 2_000_000  # a partial bundle, not the 4.6 MB one
