"""The host logs in to a broker that wants it: user and password, TLS with the park's own CA, client
certificates. A real Mosquitto with a self-signed CA made by openssl, anonymous clients refused."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tiesense.broker_address import BrokerAddress
from tiesense.service import Host, HostError

from .conftest import ROOT

HOST_USER, HOST_PASSWORD = "tiesense-host", "correct horse battery staple"
DEVICE_USER, DEVICE_PASSWORD = "kiosk-05", "kiosk-05-secret"


@pytest.fixture(scope="module")
def secure(secure_mosquitto_factory):
    return secure_mosquitto_factory(HOST_USER, HOST_PASSWORD, DEVICE_USER, DEVICE_PASSWORD)


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
