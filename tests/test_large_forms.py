"""Forms larger than the device's MQTT receive buffer (4 KiB) reach it: the real handheld firmware under
micropython, the real host and its embedded broker. The handheld's interview (26 KB) and one with a
200-organisation roster (49 KB) stream to flash, are checked like a small form (site signature, newer
version, runnable here) and taken between surveys; a forged one and one over ``form_max_bytes`` are
refused, counted in the status, and the form the handheld has stays.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from tiesense import cli, wire
from tiesense.commands import embedded_login, publish_message
from tiesense.devices import SimDevice, read_log_state, stage
from tiesense.forms import builtin_form
from tiesense.service import Host
from tiesense.xlsform.instruments import source

from .test_handheld import INTERVIEW, rows

DEVICE = "handheld-01"
#: Checking a new interview holds the form it decodes to beside the interview in use: a decoded 26 KB interview
#: takes 102 KB on this 64-bit unix port (a Pico's 32-bit objects about half), and the simulated handheld
#: (devices.ROLE_HEAPSIZE, 320K) has 119 KB free after boot: enough (304K, with 103 KB free, is not). The 49 KB
#: interview decodes to 243 KB here: it takes a bigger heap (on the handheld's own it is refused, a test below).
BIG_HEAP = "576K"  # 512K passes, 480K does not
SHIPPED = builtin_form("fi_interview")
OLDER = "2026112901"  # what the handheld was staged with: the host's shipped version is newer


def roster_of(orgs: int, version: str, tmp: Path) -> Path:
    """The interview's XLSForm with ``orgs`` made-up organisations in its roster (bench/form_heap.py)."""
    from bench.form_heap import with_roster

    md = with_roster(Path(source("fi_interview")).read_text(encoding="utf-8"), orgs)
    out = tmp / "fi_interview_roster.md"
    out.write_text(md.replace(SHIPPED["version"], version), encoding="utf-8")
    return out


def handheld(host: Host, tmp: Path, script: list, **more) -> tuple[Path, dict]:
    """A provisioned handheld staged with an older version of its interview (and the torn spool file a
    power cut would leave), and the site values it was given."""
    login = host.device_login(DEVICE, role="handheld")
    site = {k: v for k, v in login.site_config.items() if k not in ("device", "role", "broker_host", "broker_port")}
    root = stage(tmp / "handheld", DEVICE, host.broker_url, role="handheld", script=script, thanks_ms=0,
                 status_s=1, **site, **more)
    (root / "forms" / "fi_interview.json").write_bytes(wire.encode(dict(SHIPPED, version=OLDER)))
    (root / "forms" / "fi_interview.json.part").write_bytes(b'{"id":"fi_interview","version":"2099')
    return root, site


def leftovers(root: Path) -> list[str]:
    """What is in the handheld's forms/ beside its form and the texts split from it (firmware/texts.py):
    a spool or temporary file a transfer left behind."""
    names = os.listdir(root / "forms")
    assert "fi_interview.json" in names
    return sorted(n for n in names if n != "fi_interview.json" and not n.endswith((".texts", ".glyphs", ".core")))


def stored_version(root: Path) -> str:
    return json.loads((root / "forms" / "fi_interview.json").read_bytes())["version"]


def status(host: Host) -> dict:
    return next((d for d in host.store.devices() if d["device"] == DEVICE), {})


def test_the_26_kb_interview_reaches_the_handheld_and_is_answered_in_its_new_version(tmp_path, micropython,
                                                                                     wait_until):
    db = tmp_path / "park.db"
    with Host(db) as host:
        # the form arrives at connect (retained); the interviewer starts a few seconds later
        root, site = handheld(host, tmp_path, [["wait_ms", 8000]] + INTERVIEW + [["wait_ms", 500]])
        dev = SimDevice(root, micropython=micropython).start()
        try:
            dev.wait_for("UPLINK stored form fi_interview version %s" % SHIPPED["version"], timeout=60)
            wait_until(lambda: rows(db, "SELECT * FROM respondents"), 90, "the interview stored")
            wait_until(lambda: read_log_state(root).pending == [], 15, "the handheld's log to drain")
        finally:
            dev.stop()
    out = dev.read_output()
    assert "Traceback" not in out and "refused" not in out, out[-3000:]
    (record,) = rows(db, "SELECT * FROM records")
    assert (record["form"], record["form_version"]) == ("fi_interview", SHIPPED["version"]), "taken before the survey"
    (resp,) = rows(db, "SELECT * FROM respondents")
    assert (resp["respondent_org"], resp["named"]) == (102, 2)
    # on flash: the host's signed message itself, and no spool file (the torn one went at boot)
    kept = (root / "forms" / "fi_interview.json").read_bytes()
    assert len(kept) > 26_000
    assert wire.decode_form(kept, site["site"], wire.key_bytes(site["site_key"])) == dict(SHIPPED, v=wire.V2)
    assert not (root / "forms" / "fi_interview.json.part").exists()


def test_a_49_kb_interview_with_a_200_organisation_roster_is_published_to_a_running_handheld(tmp_path, micropython,
                                                                                             wait_until):
    db = tmp_path / "park.db"
    with Host(db) as host:
        root, site = handheld(host, tmp_path, [["wait_ms", 60000]])
        dev = SimDevice(root, micropython=micropython, heapsize=BIG_HEAP).start()
        try:
            dev.wait_for("UPLINK stored form fi_interview version %s" % SHIPPED["version"], timeout=60)
            src = roster_of(200, "2026120102", tmp_path)
            out = CliRunner().invoke(cli.main, ["forms", "publish", str(src), "--for", "handheld", "--db", str(db),
                                                "--no-roster"])
            assert out.exit_code == 0 and "delivered" in out.output, out.output
            dev.wait_for("UPLINK stored form fi_interview version 2026120102", timeout=60)
            wait_until(lambda: status(host).get("heap_free"), 10, "a status after the form")
        finally:
            dev.stop()
    out = dev.read_output()
    assert "Traceback" not in out and "refused" not in out and "out of memory" not in out, out[-3000:]
    kept = (root / "forms" / "fi_interview.json").read_bytes()
    assert len(kept) > 45_000
    form = wire.decode_form(kept, site["site"], wire.key_bytes(site["site_key"]))
    roster = form["lists"]["roster"]
    assert sum(1 for c in roster if str(c["name"]).startswith("1") and len(str(c["name"])) == 4) >= 200


def test_a_forged_form_and_one_over_the_bound_are_refused_and_the_handheld_keeps_its_form(tmp_path, micropython,
                                                                                           wait_until):
    db = tmp_path / "park.db"
    with Host(db) as host:
        root, site = handheld(host, tmp_path, [["wait_ms", 60000]], form_max_bytes=30_000)
        # an intruder with a broker login (the host's, stolen) replaces the retained form with its own:
        # the interview with a newer version, signed for the handheld's site with a key it guessed
        forged = wire.encode_form(dict(SHIPPED, version="2026120109"), {site["site"]: os.urandom(32)})
        assert len(forged) > 26_000
        publish_message(embedded_login(db), wire.topic_form("fi_interview"), forged, qos=1, retain=True)
        dev = SimDevice(root, micropython=micropython).start()
        try:
            dev.wait_for("UPLINK refused message on tiesense/v1/forms/fi_interview: form signature does not verify",
                         timeout=60)
            # the host's own 49 KB version: genuine, but more than this handheld's form_max_bytes
            src = roster_of(200, "2026120102", tmp_path)
            out = CliRunner().invoke(cli.main, ["forms", "publish", str(src), "--for", "handheld", "--db", str(db),
                                                "--no-roster"])
            assert out.exit_code == 0, out.output
            dev.wait_for("more than form_max_bytes (30000)", timeout=60)
            wait_until(lambda: (status(host).get("refused") or 0) >= 2, 15, "the status to count both refusals")
            assert dev.running, "the handheld stopped"
        finally:
            dev.stop()
    out = dev.read_output()
    assert "Traceback" not in out and "UPLINK stored form" not in out, out[-3000:]
    assert stored_version(root) == OLDER
    assert leftovers(root) == [], "no spool file left behind"


def test_on_a_heap_too_small_to_check_it_the_handheld_keeps_its_form_and_goes_on(tmp_path, micropython, wait_until):
    db = tmp_path / "park.db"
    with Host(db) as host:
        root, site = handheld(host, tmp_path, [["wait_ms", 60000]])
        dev = SimDevice(root, micropython=micropython).start()  # the simulated handheld's own heap, 320K
        try:
            dev.wait_for("UPLINK stored form fi_interview version %s" % SHIPPED["version"], timeout=60)
            src = roster_of(200, "2026120102", tmp_path)
            out = CliRunner().invoke(cli.main, ["forms", "publish", str(src), "--for", "handheld", "--db", str(db),
                                                "--no-roster"])
            assert out.exit_code == 0, out.output
            dev.wait_for("UPLINK out of memory handling a message on tiesense/v1/forms/fi_interview", timeout=60)
            wait_until(lambda: status(host).get("last_error") == "MemoryError", 15, "the status to say why")
            assert dev.running, "the handheld stopped"
        finally:
            dev.stop()
    assert "Traceback" not in dev.read_output()
    assert stored_version(root) == SHIPPED["version"]
    assert leftovers(root) == [], "no spool file left behind"


class CuttingProxy:
    """A TCP proxy between a device and the broker that cuts the first connection ``cut_after`` bytes after
    ``marker`` went to the device (mid-way through the message on that topic), and takes no new one until
    ``reopen()``."""

    def __init__(self, broker_port: int, marker: bytes, cut_after: int):
        self.marker = marker
        import socket
        import threading

        self.broker_port = broker_port
        self.cut_after = cut_after
        self.cuts = 0
        self.open = threading.Event()
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def reopen(self) -> None:
        self.open.set()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                dev, _ = self.srv.accept()
            except OSError:
                return
            if self.cuts and not self.open.is_set():
                dev.close()  # the device keeps retrying with backoff
                continue
            up = socket.create_connection(("127.0.0.1", self.broker_port))
            budget = None if self.cuts else self.cut_after
            for src, dst, limit in ((dev, up, None), (up, dev, budget)):
                t = threading.Thread(target=self._pump, args=(src, dst, limit, (dev, up)), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src, dst, limit, pair) -> None:
        import socket

        seen = b""  # the stream to the device, while the marker is looked for
        stop = None  # bytes of that stream after which it is cut
        sent = 0
        try:
            while True:
                data = src.recv(4096)
                if not data:
                    break
                if limit is not None and stop is None:
                    seen += data
                    at = seen.find(self.marker)
                    if at >= 0:
                        stop = at + limit
                if stop is not None and sent + len(data) > stop:
                    dst.sendall(data[:stop - sent])
                    self.cuts += 1
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.srv.close()


def test_a_form_cut_off_mid_way_is_never_taken_and_arrives_whole_at_the_next_connect(tmp_path, micropython,
                                                                                     wait_until):
    db = tmp_path / "park.db"
    with Host(db) as host:
        # the 26 KB form comes retained at connect: the link breaks after 12 KB of it
        proxy = CuttingProxy(host.broker.port, wire.topic_form("fi_interview").encode(), cut_after=12_000)
        root, site = handheld(host, tmp_path, [["wait_ms", 60000]], backoff_max_s=1)
        cfg = json.loads((root / "site.json").read_text())
        (root / "site.json").write_text(json.dumps(dict(cfg, broker_port=proxy.port)))
        dev = SimDevice(root, micropython=micropython).start()
        try:
            dev.wait_for("UPLINK lost", timeout=60)
            assert proxy.cuts == 1
            # torn: nothing spooled is left, the handheld keeps its form
            assert leftovers(root) == []
            assert stored_version(root) == OLDER and "UPLINK stored form" not in dev.read_output()
            proxy.reopen()
            dev.wait_for("UPLINK stored form fi_interview version %s" % SHIPPED["version"], timeout=60)
        finally:
            dev.stop()
            proxy.close()
    assert "Traceback" not in dev.read_output()
    assert stored_version(root) == SHIPPED["version"]
    assert leftovers(root) == []
