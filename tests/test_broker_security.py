"""The host logs in to a broker that wants it: user and password, TLS with the park's own CA, client
certificates. A real Mosquitto with a self-signed CA made by openssl, anonymous clients refused."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tiesense.broker_address import BrokerAddress
from tiesense.service import Host, HostError

from .conftest import ROOT, free_port, require_tool, wait_for_port

HOST_USER, HOST_PASSWORD = "tiesense-host", "correct horse battery staple"
DEVICE_USER, DEVICE_PASSWORD = "kiosk-05", "kiosk-05-secret"


def openssl(*args, cwd):
    subprocess.run([require_tool("openssl", "apt-get install -y openssl"), *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


class SecureMosquitto:
    """Mosquitto with two TLS listeners signed by a fresh CA: one takes passwords, one requires a
    client certificate. No anonymous client gets in."""

    def __init__(self, workdir):
        self.dir = workdir
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=tiesense test CA",
                "-keyout", "ca.key", "-out", "ca.crt", cwd=workdir)
        (workdir / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        for name, cn in (("server", "127.0.0.1"), ("client", HOST_USER)):
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", f"{name}.key",
                    "-out", f"{name}.csr", cwd=workdir)
            openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                    "-days", "2", "-out", f"{name}.crt", *(["-extfile", "san.ext"] if name == "server" else []),
                    cwd=workdir)
        passwd = require_tool("mosquitto_passwd", "apt-get install -y mosquitto")
        subprocess.run([passwd, "-c", "-b", str(workdir / "passwords"), HOST_USER, HOST_PASSWORD], check=True)
        subprocess.run([passwd, "-b", str(workdir / "passwords"), DEVICE_USER, DEVICE_PASSWORD], check=True)
        self.port, self.cert_port = free_port(), free_port()
        d = workdir
        (d / "mosquitto.conf").write_text(
            # run as root in CI, Mosquitto would drop to user mosquitto, who cannot read pytest's 0700 folders
            "user root\n"
            "per_listener_settings true\n"
            f"listener {self.port} 127.0.0.1\n"
            f"cafile {d}/ca.crt\ncertfile {d}/server.crt\nkeyfile {d}/server.key\n"
            f"allow_anonymous false\npassword_file {d}/passwords\n"
            f"listener {self.cert_port} 127.0.0.1\n"
            f"cafile {d}/ca.crt\ncertfile {d}/server.crt\nkeyfile {d}/server.key\n"
            "require_certificate true\nuse_identity_as_username true\nallow_anonymous false\n"
            f"log_dest file {d}/mosquitto.log\n")
        exe = require_tool("mosquitto", "apt-get install -y mosquitto")
        self.proc = subprocess.Popen([exe, "-c", str(d / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        wait_for_port(self.port)
        wait_for_port(self.cert_port)
        self.ca = str(d / "ca.crt")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    broker = SecureMosquitto(tmp_path_factory.mktemp("tls"))
    yield broker
    broker.stop()


def test_host_logs_in_with_a_password_from_the_environment_over_tls(secure, tmp_path, monkeypatch, mqtt_device,
                                                                      visit, wait_until):
    monkeypatch.setenv("TIESENSE_MQTT_PASSWORD", HOST_PASSWORD)
    monkeypatch.setenv("TIESENSE_MQTT_CA", secure.ca)
    with Host(tmp_path / "park.db", broker_url=f"mqtts://{HOST_USER}@127.0.0.1:{secure.port}") as host:
        assert host.broker_url == f"mqtts://{HOST_USER}@127.0.0.1:{secure.port}"  # no password in it
        device = BrokerAddress.parse(f"mqtts://{DEVICE_USER}@127.0.0.1:{secure.port}", password=DEVICE_PASSWORD,
                                     ca_file=secure.ca, environ={})
        dev = mqtt_device(device, "kiosk-05")
        rec = visit("kiosk-05", 1)
        dev.send([rec])
        wait_until(lambda: dev.n_acked() == 1, 10, "the record's ack over TLS")
        assert host.store.record(rec["id"]) == rec


def test_a_wrong_password_is_one_line_that_says_what_to_check(secure, tmp_path):
    address = BrokerAddress.parse(f"mqtts://{HOST_USER}@127.0.0.1:{secure.port}", password="wrong",
                                  ca_file=secure.ca, environ={})
    with pytest.raises(HostError) as e:
        Host(tmp_path / "park.db", broker_url=address).start()
    message = str(e.value)
    assert "refused the ingest's connection" in message and "TIESENSE_MQTT_PASSWORD" in message
    assert "wrong" not in message and "\n" not in message


def test_a_broker_certificate_from_an_unknown_ca_is_refused(secure, tmp_path):
    address = BrokerAddress.parse(f"mqtts://{HOST_USER}@127.0.0.1:{secure.port}", password=HOST_PASSWORD,
                                  environ={})  # the system trust store does not know the park's CA
    with pytest.raises(HostError, match="certificate verify failed"):
        Host(tmp_path / "park.db", broker_url=address).start()


def test_client_certificate_login(secure, tmp_path):
    d = secure.dir
    with_cert = BrokerAddress.parse(f"mqtts://127.0.0.1:{secure.cert_port}", ca_file=secure.ca,
                                    cert_file=d / "client.crt", key_file=d / "client.key", environ={})
    with Host(tmp_path / "a.db", broker_url=with_cert) as host:
        assert host.ingest.connected
    without = BrokerAddress.parse(f"mqtts://127.0.0.1:{secure.cert_port}", ca_file=secure.ca, environ={})
    with pytest.raises(HostError):
        Host(tmp_path / "b.db", broker_url=without).start()


def test_serve_takes_the_password_from_a_file_and_never_shows_it(secure, tmp_path):
    secret = tmp_path / "broker-password"
    secret.write_text(HOST_PASSWORD + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "tiesense.cli", "serve", "--db", str(tmp_path / "s.db"),
                             "--broker", f"mqtts://{HOST_USER}@127.0.0.1:{secure.port}", "--ca-file", secure.ca,
                             "--password-file", str(secret)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"tiesense host ready: broker mqtts://{HOST_USER}@127.0.0.1:{secure.port}, ")
        assert HOST_PASSWORD not in " ".join(proc.args) + line
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and HOST_PASSWORD not in out + err


@pytest.mark.parametrize("url, kwargs, words", [
    ("mqtt://127.0.0.1:1883", {"ca_file": "ca.crt"}, "not TLS: use mqtts://"),
    ("mqtts://127.0.0.1", {"cert_file": "c.crt"}, "needs its key"),
    ("mqtts://127.0.0.1", {"password": "x"}, "no user name"),
    ("mqtts://u@127.0.0.1", {"password_file": "/nonexistent/pw"}, "cannot read the broker password file"),
    ("ftp://127.0.0.1", {}, "scheme 'ftp' is not supported"),
])
def test_bad_login_settings_say_what_is_wrong(url, kwargs, words):
    with pytest.raises(ValueError, match=words):
        BrokerAddress.parse(url, environ={}, **kwargs)


def test_arguments_win_over_the_environment_and_the_url():
    env = {"TIESENSE_MQTT_PASSWORD": "from-env", "TIESENSE_MQTT_CA": "/etc/park-ca.crt"}
    assert BrokerAddress.parse("mqtts://u:from-url@h", environ=env).password == "from-env"
    assert BrokerAddress.parse("mqtts://u:from-url@h", password="arg", environ=env).password == "arg"
    assert BrokerAddress.parse("mqtts://u:from-url@h", environ={}).password == "from-url"
    assert BrokerAddress.parse("mqtts://u@h", environ=env).ca_file == "/etc/park-ca.crt"
    assert BrokerAddress.parse("mqtts://u@h", ca_file="mine.crt", environ=env).ca_file == "mine.crt"
