"""docs/operations.md: the Mosquitto configuration it gives runs, and does what the page says."""
from __future__ import annotations

import re

from tiesense import wire
from tiesense.service import Host

from .conftest import ROOT, DeviceLogin, free_port, require_tool, wait_for_port

DOC = ROOT / "docs" / "operations.md"


def documented_config() -> str:
    found = re.findall(r"<!-- mosquitto.conf -->\n```\n(.*?)\n```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(found) == 1, "docs/operations.md must hold exactly one mosquitto.conf block"
    return found[0]


def test_the_documented_limits_are_the_wire_contracts():
    conf = documented_config()
    assert f"message_size_limit {wire.MAX_PAYLOAD}" in conf
    assert int(re.search(r"max_inflight_messages (\d+)", conf).group(1)) > 20
    assert int(re.search(r"max_queued_messages (\d+)", conf).group(1)) >= 100_000


def test_mosquitto_runs_the_documented_config(tmp_path, mqtt_device, visit, wait_until):
    import subprocess

    exe = require_tool("mosquitto", "apt-get install -y mosquitto")
    port = free_port()
    conf = documented_config().replace("listener 1883", f"listener {port} 127.0.0.1")
    conf = conf.replace("/var/lib/mosquitto/", f"{tmp_path}/")
    (tmp_path / "mosquitto.conf").write_text(conf + f"\nlog_dest file {tmp_path / 'mosquitto.log'}\n")
    proc = subprocess.Popen([exe, "-c", str(tmp_path / "mosquitto.conf")], stderr=subprocess.PIPE)
    try:
        wait_for_port(port)
        url = f"mqtt://127.0.0.1:{port}"
        db = tmp_path / "park.db"
        with Host(db, broker_url=url):
            pass  # the broker now keeps a session for this host
        dev = mqtt_device(url, "kiosk-01", per_message=1)
        dev.publish(b"x" * (wire.MAX_PAYLOAD + 1))  # dropped at the broker
        records = [visit("kiosk-01", s) for s in range(1, 201)]
        dev.send(records)  # queued for the host while it is away
        sizes = []
        with Host(db, broker_url=url, on_batch=lambda r: sizes.append(r.messages)) as host:
            wait_until(lambda: dev.n_acked() == len(records), 30, "every queued record to be acknowledged")
            assert host.stats["db_quarantine"] == 0 and host.stats["db_records"] == len(records)
        # More than Mosquitto's default 20 unacknowledged messages reached the host at once.
        assert max(sizes) > 20, sizes
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_secured_config_runs_with_provisioned_files(tmp_path, mosquitto_factory, visit, wait_until, mqtt_device):
    """The "Securing a deployment" block, with the files `tiesense devices provision` writes."""
    from tiesense.broker_address import BrokerAddress
    from tiesense.provisioning import HOST_USER, host_login, provision, write_broker_files
    from tiesense.store import Store

    block = re.findall(r"<!-- mosquitto-secured.conf -->\n```\n(.*?)\n```", DOC.read_text(encoding="utf-8"),
                       flags=re.S)
    assert len(block) == 1
    with Store(tmp_path / "park.db") as store:
        host_password = host_login(store)
        device = provision(store, "kiosk-05", "lobby-a", broker_host="127.0.0.1")
        write_broker_files(store, tmp_path / "provisioning" / "mosquitto")
    port = free_port()
    conf = (block[0].replace("listener 1883", f"listener {port} 127.0.0.1")
            .replace("/srv/tiesense/provisioning/", f"{tmp_path}/provisioning/")
            .replace("/var/lib/mosquitto/", f"{tmp_path}/"))
    assert "/srv/" not in conf and "/var/" not in conf
    (tmp_path / "secured.conf").write_text("user root\n" + conf + "\n")
    import subprocess

    proc = subprocess.Popen([require_tool("mosquitto", "apt-get install -y mosquitto"), "-c",
                             str(tmp_path / "secured.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port)
        address = BrokerAddress.parse(f"mqtt://{HOST_USER}@127.0.0.1:{port}", password=host_password, environ={})
        with Host(tmp_path / "park.db", broker_url=address) as host:
            login = DeviceLogin("127.0.0.1", port, username="kiosk-05", password=device.password, key=device.key)
            dev = mqtt_device(login, "kiosk-05", client_id="kiosk-05")  # signs its records with its key
            rec = visit("kiosk-05", 1)
            dev.send([rec])
            wait_until(lambda: dev.n_acked() == 1, 10, "the provisioned device's record to be acknowledged")
            assert host.store.record(rec["id"]) == rec
    finally:
        proc.terminate()
        proc.wait(10)
