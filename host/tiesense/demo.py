"""The demo: an embedded broker, the host, N simulated kiosks and the dashboards, with a live count.

Each kiosk is the real firmware running in its own ``micropython`` process,
answering the visit survey with seeded random key presses. The host stores
and acknowledges every record; the kiosks delete what was acknowledged.

The demo runs two survey waves, as a project does: each wave is a new version
of a built-in form published with a ``wave`` (the publish API's, as
``tiesense forms publish --wave``), delivered to the devices retained and
signed. The kiosks start on wave 1's visit form; halfway through the run (or
after a minute when it runs until Ctrl-C) wave 2's version is published and
each kiosk switches to it between two surveys, so the dashboards' wave
filters and the by-wave comparison have two waves to show.

So that the network pages have something to show, the demo also imports a
small roster of a fictional cluster and delivers two waves of firm-interaction
interviews from a provisioned handheld (signed records through the ingest
core, as a USB offload would): most respondents of wave 1 are interviewed
again three weeks later, keeping most of their partners, dropping some and
naming new ones; then it estimates the ties. The dashboards are served on
127.0.0.1 (8080, or a free port) with a login printed at start.
"""
from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import wire

from .devices import MissingTool, SimDevice, find_micropython, stage
from .service import Host

#: The demo's survey waves and the version of each form published for it (a built-in form, republished
#: with the wave: the visit form for the kiosks, the partner interview for the handheld).
WAVES = {"1": "2026120101", "2": "2026120201"}
#: When a run until Ctrl-C publishes wave 2 of the visit form: seconds after the kiosks start.
SECOND_WAVE_AFTER = 60.0


#: The demo's cluster: (code, name, actor type, region, sector, size band); actor types are
#: tiesense.ties.cluster.ACTOR_TYPES, so the cluster measures group them.
ROSTER = (
    (1, "Gumi Techno Park", "technopark", "Gyeongbuk", "support", None),
    (2, "Kumoh National Institute of Technology", "university", "Gyeongbuk", "education", None),
    (3, "KETI Gumi Center", "gri", "Gyeongbuk", "electronics", None),
    (4, "Hanbit Display", "large_firm", "Gyeongbuk", "displays", "large"),
    (5, "Daeil Precision", "sme", "Gyeongbuk", "components", "50-299"),
    (6, "Seorin Optics", "sme", "Gyeongbuk", "optics", "10-49"),
    (7, "Nuri Sensors", "startup", "Gyeongbuk", "sensors", "1-9"),
    (8, "Gyeongbuk Regional Innovation Agency", "regional_agency", "Gyeongbuk", "support", None),
    (9, "Kyungpook National University", "university", "Daegu", "education", None),
    (10, "Miraetek", "sme", "Daegu", "software", "10-49"),
    (11, "Pohang Materials Lab", "gri", "Gyeongbuk", "materials", None),
    (12, "Sejin Mold", "sme", "Gyeongbuk", "molds", "50-299"),
    (13, "Orbis Semiconductor (Singapore)", "foreign_firm", "abroad", "semiconductors", "large"),
    (14, "Daegu Venture Partners", "finance", "Daegu", "finance", None),
    (15, "Bitna Test & Certification", "services", "Gyeongbuk", "testing", "10-49"),
)


def publish_wave(host: Host, form_id: str, wave: str) -> dict:
    """Publish the built-in form ``form_id`` as the version of survey ``wave`` (:data:`WAVES`), with that
    ``wave`` setting, and deliver it to the devices, retained and signed for every site (what
    ``tiesense forms publish --wave`` does); return the form as published. Publishing it again is a no-op."""
    from .forms import builtin_form
    from .publishing import publish

    form = dict(builtin_form(form_id), version=WAVES[wave])
    publish(host.store, form, wave=wave)
    published = next(f for f in host.store.forms() if (f["id"], f["version"]) == (form_id, form["version"]))
    host.ingest.publish(wire.topic_form(form_id), wire.encode_form(published, host.store.site_keys() or None),
                        qos=wire.QOS_FORM, retain=True)
    return published


def _interview(rng: random.Random, respondent: int, partner: int) -> dict:
    return {"respondent_org": respondent, "partner_org": partner,
            "tie_types": sorted(rng.sample(["traded", "collaborative", "knowledge", "people", "support", "finance"],
                                           rng.randint(1, 3))),
            "frequency": rng.randint(1, 6), "since_year": rng.randint(2005, 2026), "closeness": rng.randint(1, 5),
            "reciprocity": rng.choice(["mutual", "we", "they"]),
            "scope": rng.choice(["same_park", "same_park", "same_region", "other_region", "abroad"]),
            "importance": rng.randint(1, 5)}


def interview_waves(host: Host, seed: int = 7, respondents: int = 11) -> dict[str, int]:
    """Import the demo roster, then store two waves of signed interviews from a provisioned handheld and
    estimate the ties; return the number of partner records stored per wave.

    Wave 1, four weeks ago: ``respondents`` organisations name 2 to 4 partners each. Wave 2, a week ago:
    all but two of them again (each partner kept with probability 3/4, up to two new ones) and two
    organisations interviewed for the first time, so the waves have new, lost and kept ties.
    """
    from .estimates import recompute, recompute_measures
    from .ingest import IngestCore, Message

    store = host.store
    store.import_roster([dict(zip(("code", "name", "actor_type", "region", "sector", "size"), r)) for r in ROSTER],
                        source="tiesense demo")
    key = wire.key_bytes(host.device_login("handheld-01", site="demo", role="handheld").key)
    forms = {wave: publish_wave(host, "fi_partner", wave) for wave in WAVES}
    rng = random.Random(seed)
    codes = [r[0] for r in ROSTER]
    first = {r: rng.sample([c for c in codes if c != r], rng.randint(2, 4)) for r in rng.sample(codes, respondents)}
    again = rng.sample(sorted(first), respondents - 2)
    second = {}
    for r in again:
        kept = [p for p in first[r] if rng.random() < 0.75]
        new = rng.sample([c for c in codes if c != r and c not in first[r]], rng.randint(0, 2))
        second[r] = (kept + new) or first[r][:1]
    for r in rng.sample([c for c in codes if c not in first], 2):
        second[r] = rng.sample([c for c in codes if c != r], rng.randint(2, 4))
    now, seq, stored = int(time.time()), 0, {}
    core = IngestCore(host.forms)
    for wave, named, days_ago in (("1", first, 28), ("2", second, 7)):
        fields = wire.answer_fields(forms[wave])
        parts = []
        for respondent, partners in named.items():
            for partner in partners:
                seq += 1
                answers = _interview(rng, respondent, partner)
                rec = wire.make_record_v2("fi_partner", forms[wave]["version"], now - days_ago * 86400 + seq * 600,
                                          240, 1, seq * 600, wire.CLOCK_NTP, [answers.get(n) for n in fields],
                                          wire.new_record_id(os.urandom))
                parts.append(wire.sign_record(rec, seq, "handheld-01", key))
        stored[wave] = 0
        for i in range(0, len(parts), wire.MAX_BATCH_RECORDS):
            payload = wire.encode_batch_from_encoded("handheld-01", parts[i:i + wire.MAX_BATCH_RECORDS], wire.V2)
            stored[wave] += core.process(store, [Message(wire.topic_records("handheld-01"), payload,
                                                         time.time())]).stored
    recompute(store, n_replicates=200, seed=seed)
    recompute_measures(store, n_replicates=200, seed=seed)
    return stored


def _dashboard(host: Host, port: int):
    """The web side on 127.0.0.1:``port`` (a free port if it is taken), with a fresh 'demo' login."""
    from .access import create_user, set_password
    from .service import web_app
    from .web.server import ApiServer

    password = secrets.token_urlsafe(9)
    try:
        create_user(host.store, "demo", password, "admin")
    except Exception:  # a demo database of an earlier run: the same user, a new password
        set_password(host.store, "demo", password)
    try:
        server = ApiServer(web_app(host), "127.0.0.1", port).start()
    except OSError:
        server = ApiServer(web_app(host), "127.0.0.1", 0).start()
    return server, password


def run_demo(
    kiosks: int = 3,
    db_path: str | Path = "tiesense-demo.db",
    broker_url: str | None = None,
    every: float = 2.0,
    duration: float | None = None,
    workdir: str | Path | None = None,
    out=None,
    web_port: int | None = 8080,
    second_wave_after: float | None = None,
) -> dict:
    """Run the demo until Ctrl-C (or for ``duration`` seconds); return the final counts.

    Parameters
    ----------
    kiosks : number of simulated kiosks, one ``micropython`` process each
    db_path : SQLite file the host writes
    broker_url : an external broker; default an embedded one on a free port
    every : seconds between two surveys at each kiosk
    duration : stop after this many seconds (None: until interrupted)
    workdir : where the kiosks' filesystems live (default: a temporary folder)
    web_port : serve the dashboards there (a free port if taken); None: no web side
    second_wave_after : publish wave 2 of the visit form this many seconds after the kiosks start, once
        a visit of wave 1 is in (default: half of ``duration``, else :data:`SECOND_WAVE_AFTER`)
    """
    from .store.analysable import waves

    out = out if out is not None else sys.stdout  # looked up now: a default bound at import misses redirection
    micropython = find_micropython()
    own_workdir = workdir is None
    root = Path(tempfile.mkdtemp(prefix="tiesense-demo-")) if own_workdir else Path(workdir)
    stop = threading.Event()
    if second_wave_after is None:
        second_wave_after = duration / 2 if duration is not None else SECOND_WAVE_AFTER

    def on_signal(signum, frame):
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)} \
        if threading.current_thread() is threading.main_thread() else {}

    # embedded_port=0: a free port, so the demo runs beside a broker (or another demo) on 1883.
    host = Host(db_path, broker_url=broker_url, embedded_port=0)
    devices: list[SimDevice] = []
    counts: dict = {}
    web = None
    tty = getattr(out, "isatty", lambda: False)()
    try:
        host.start()
        print(f"tiesense demo: broker {host.broker_url}, database {db_path}, {kiosks} kiosk(s) in {root}", file=out)
        if web_port is not None:
            ties = interview_waves(host)
            web, password = _dashboard(host, web_port)
            print(f"dashboards: {web.url}/ (log in as demo, password {password}); two interview waves of "
                  f"{ties['1']} and {ties['2']} partner reports from handheld-01 are in, with tie estimates",
                  file=out, flush=True)
        logins = {}
        for i in range(kiosks):
            device_id = f"kiosk-{i + 1:02d}"
            logins[device_id] = {}
            if broker_url is None:  # the embedded broker lets in provisioned devices only
                cfg = host.device_login(device_id, site="demo").site_config
                logins[device_id] = {k: cfg[k] for k in ("mqtt_user", "mqtt_password", "device_key", "site",
                                                         "site_key")}
        # after the logins (a new site republishes the host's forms), so the forms topic holds wave 1's
        visit_form = publish_wave(host, "tp_visit", "1")
        print(f"survey wave 1: the kiosks run visit form version {visit_form['version']}", file=out)
        for i, (device_id, login) in enumerate(logins.items()):
            forms_dir = root / device_id / "forms"  # the kiosk is set up with the form of the wave under way
            forms_dir.mkdir(parents=True, exist_ok=True)
            (forms_dir / "tp_visit.json").write_text(json.dumps(visit_form, ensure_ascii=False), encoding="utf-8")
            dev_root = stage(root / device_id, device_id, host.broker_url, role="kiosk",
                             auto={"seed": i + 1, "every_s": every}, **login)
            dev = SimDevice(dev_root, micropython=micropython)
            dev.start()
            devices.append(dev)
        started, wave = time.monotonic(), "1"
        print("Ctrl-C stops everything.", file=out)
        while not stop.wait(1.0):
            counts = host.counts()
            line = (f"records stored {counts['records']:>6}  acknowledged {counts['acked']:>6}  "
                    f"duplicates {counts['duplicates']:>4}  quarantined {counts['quarantine']:>3}  "
                    f"kiosks online {counts['online']}/{kiosks}")
            print(("\r" + line) if tty else line, end="" if tty else "\n", file=out, flush=True)
            dead = [d for d in devices if d.returncode is not None]
            if dead:
                print(f"\nkiosk {dead[0].root.name} stopped (exit {dead[0].returncode}); its output is in {dead[0].output}",
                      file=out)
                break
            if (wave == "1" and time.monotonic() - started >= second_wave_after
                    and "1" in host.store.read(waves, "visits")):
                wave = "2"
                visit_form = publish_wave(host, "tp_visit", wave)
                print(("\n" if tty else "") + f"survey wave 2: visit form version {visit_form['version']} "
                      "published; the kiosks switch to it between two surveys", file=out, flush=True)
            if duration is not None and time.monotonic() - started >= duration:
                break
    finally:
        for d in devices:
            d.stop()
        if web is not None:
            web.stop()
        host.stop()
        for s, h in previous.items():
            signal.signal(s, h)
        if own_workdir:
            shutil.rmtree(root, ignore_errors=True)
    counts = host.counts()
    print(f"\nstopped: {counts['records']} records stored, {counts['acked']} acknowledged.", file=out)
    return counts


__all__ = ["run_demo", "interview_waves", "publish_wave", "WAVES", "MissingTool"]
