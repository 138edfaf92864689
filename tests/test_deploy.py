"""tiesense firmware stage: a Pico W's filesystem from a provisioned site.json, compiled for the RP2040,
and the very same image (plus the simulator board) running under the real MicroPython."""
from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from tiesense import cli
from tiesense.deploy import PICO_W_FS_BYTES, DeployError, stage_image
from tiesense.devices import SimDevice, read_log_state
from tiesense.provisioning import provision
from tiesense.service import Host
from tiesense.store import Store


def provisioned_site(tmp_path, **extra) -> dict:
    with Store(tmp_path / "prov.db") as store:
        site = provision(store, "kiosk-09", "lobby-b", broker_host="10.0.0.2").site_config
    site.update(extra)
    return site


def test_the_pico_image_is_compiled_checked_and_small(tmp_path, mpy_cross):
    image = stage_image(tmp_path / "pico", provisioned_site(tmp_path), mpy_cross=mpy_cross)
    files = set(image.files)
    assert "main.py" in files and "board/sim.py" not in files and "board/sim.mpy" not in files
    assert {"wire.mpy", "uplink.mpy", "mqtt.mpy", "log.mpy", "board/picow.mpy", "forms/tp_visit.json",
            "site.json"} <= files
    assert not [f for f in files if f.endswith(".py") and f != "main.py"]
    assert all((tmp_path / "pico" / f).read_bytes()[:1] == b"M" for f in files if f.endswith(".mpy"))
    site = json.loads((tmp_path / "pico" / "site.json").read_text())
    assert site["mqtt_user"] == "kiosk-09" and site["form"] == "tp_visit"
    assert oct(os.stat(tmp_path / "pico" / "site.json").st_mode & 0o777) == "0o600"
    assert image.bytes < PICO_W_FS_BYTES // 4  # most of the flash stays for the record log
    assert image.mpremote.startswith(f"cd {tmp_path / 'pico'} && mpremote cp -r ") and image.mpremote.endswith(" :")


def test_the_compiled_image_runs_and_delivers_with_its_provisioned_login(tmp_path, micropython, mpy_cross,
                                                                         wait_until):
    with Host(tmp_path / "host.db") as host:
        login = host.device_login("kiosk-09", site="lobby-b").site_config
        port = int(host.broker_url.rsplit(":", 1)[1])
        site = dict(login, broker_host="127.0.0.1", broker_port=port, sim_auto_s=1, thanks_ms=0)
        image = stage_image(tmp_path / "dev", site, mpy_cross=mpy_cross, simulator=True)
        assert "board/sim.mpy" in image.files
        dev = SimDevice(image.root, micropython=micropython).start()
        try:
            wait_until(lambda: host.stats["stored"] >= 1, 30, "a survey from the compiled image in the database")
            wait_until(lambda: not read_log_state(image.root).pending or host.stats["stored"] >= 2, 15,
                       "the device to drain its log")
            assert "Traceback" not in dev.read_output()
        finally:
            dev.stop()


@pytest.mark.parametrize("change, words", [
    ({"wifi_pasword": "x"}, "does not know: wifi_pasword"),
    ({"broker_host": ""}, "no 'broker_host'"),
    ({"device": "Kiosk 9"}, "must be a device id"),
    ({"mqtt_password": None}, "user without a password"),
])
def test_a_site_json_the_firmware_would_trip_on_is_refused(tmp_path, change, words):
    with pytest.raises(DeployError, match=words):
        stage_image(tmp_path / "pico", provisioned_site(tmp_path, **change), compile_mpy=False)


def test_staging_never_mixes_with_what_is_there(tmp_path):
    (tmp_path / "pico").mkdir()
    (tmp_path / "pico" / "old.py").write_text("x = 1\n")
    with pytest.raises(DeployError, match="not empty"):
        stage_image(tmp_path / "pico", provisioned_site(tmp_path), compile_mpy=False)


def test_cli_stage(tmp_path):
    site = tmp_path / "site.json"
    site.write_text(json.dumps(provisioned_site(tmp_path)))
    ok = CliRunner().invoke(cli.main, ["firmware", "stage", str(tmp_path / "pico"), "--site-json", str(site)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith(f"staged kiosk-09 in {tmp_path / 'pico'}: ") and "mpremote cp -r" in ok.output
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    refused = CliRunner().invoke(cli.main, ["firmware", "stage", str(tmp_path / "x"), "--site-json", str(bad)])
    assert refused.exit_code == 1 and len(refused.output.strip().splitlines()) == 1 and "bad.json" in refused.output


def test_a_kiosk_staged_for_tls_delivers_only_to_the_broker_its_ca_vouches_for(tmp_path, micropython, mpy_cross,
                                                                               secure_mosquitto_factory,
                                                                               wait_until):
    from tiesense.broker_address import BrokerAddress

    secure = secure_mosquitto_factory("tiesense-host", "host-secret", "kiosk-09", "kiosk-09-secret")
    site = {"device": "kiosk-09", "role": "kiosk", "broker_host": "127.0.0.1", "broker_port": secure.port,
            "broker_tls": True, "mqtt_user": "kiosk-09", "mqtt_password": "kiosk-09-secret", "sim_auto_s": 1,
            "thanks_ms": 0, "backoff_max_s": 1}
    with pytest.raises(DeployError, match="--ca-file"):
        stage_image(tmp_path / "no-ca", site, compile_mpy=False)
    host_login = BrokerAddress.parse(f"mqtts://tiesense-host@127.0.0.1:{secure.port}", password="host-secret",
                                     ca_file=secure.ca, environ={})
    with Host(tmp_path / "host.db", broker_url=host_login) as host:
        good = stage_image(tmp_path / "good", site, mpy_cross=mpy_cross, simulator=True, ca_file=secure.ca)
        assert "ca.der" in good.files
        # another kiosk carries some other CA: it must refuse the park's broker, keep its surveys and run on
        other = tmp_path / "other-ca.crt"
        _stranger_ca(other)
        wrong = stage_image(tmp_path / "wrong", dict(site, device="kiosk-10", mqtt_user="kiosk-09"),
                            mpy_cross=mpy_cross, simulator=True, ca_file=other)
        devs = [SimDevice(image.root, micropython=micropython).start() for image in (good, wrong)]
        try:
            wait_until(lambda: host.stats["stored"] >= 1, 30, "a survey over TLS in the database")
            wrong_dev = devs[1]
            wait_until(lambda: "KIOSK stored seq=" in wrong_dev.read_output() and "TLS to 127.0.0.1" in
                       wrong_dev.read_output(), 30, "the wrongly configured kiosk to answer and refuse the broker")
            assert wrong_dev.running and read_log_state(wrong.root).pending  # kept, not sent anywhere
            assert host.store.records("kiosk-10") == []
            assert all("Traceback" not in d.read_output() for d in devs)
        finally:
            for d in devs:
                d.stop()


def _stranger_ca(path):
    import subprocess

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=somebody else", "-keyout", str(path) + ".key", "-out", str(path)], check=True,
                   capture_output=True)
