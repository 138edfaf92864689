"""Commands from the host to one device (sync, status, reboot, identify, time) over MQTT.

A command is a QoS 1 message on ``wire.topic_command(device)`` with an id the
device remembers, so a repeated delivery is carried out once. Commands are not
retained: a device that is offline when one is sent never sees it (a stale
"reboot" must not fire days later); send it again when the device is online
(its retained status says so).

Wire contract 2: a command is signed with the device's key and carries the
nonce of the device's current connection (from its last status, in the
host's database), so a device obeys only the host, and a captured command
replayed after the device reconnected is refused. :func:`signed_command`
builds one from the database; :func:`embedded_login` reads the login a
running ``tiesense serve`` with the embedded broker leaves beside its database.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

from . import wire
from .broker_address import BrokerAddress


class CommandError(RuntimeError):
    """The command could not be handed to the broker; the message says why."""


#: Suffix of the file a host with the embedded broker writes beside its database: its broker login.
LOGIN_SUFFIX = ".broker-login"


def login_file(db_path: str | Path) -> Path:
    return Path(str(db_path) + LOGIN_SUFFIX)


def embedded_login(db_path: str | Path) -> BrokerAddress:
    """The login of the embedded broker that the host serving ``db_path`` runs (written, owner-only,
    while it runs)."""
    path = login_file(db_path)
    try:
        info = json.loads(path.read_text())
    except OSError:
        raise CommandError(f"no host with the embedded broker is serving {db_path} (no {path.name}): start "
                           f"'tiesense serve --db {db_path}', or give --broker and the host's login") from None
    address = BrokerAddress.parse(info["url"])
    return BrokerAddress(address.host, address.port, username=address.username, password=info["password"])


def signed_command(store, device: str, cmd: str, args: dict | None = None, cmd_id: str | None = None) -> bytes:
    """``cmd`` for ``device`` in contract version 2: signed with its key (unsigned if it has none) and
    bound to its current connection's nonce, both from the host's database ``store``.

    Raises
    ------
    CommandError
        The device never reported a version 2 status (no nonce yet: it is offline or runs older firmware).
    """
    status = next((d for d in store.devices() if d["device"] == device), None)
    if status is None or not status.get("nonce"):
        raise CommandError(f"'{device}' has not reported a version 2 status to this host yet (offline, or older "
                           "firmware): a signed command needs the nonce of its current connection")
    try:
        return wire.encode_command(cmd, cmd_id or uuid.uuid4().hex[:12], args, device=device,
                                   key=store.device_keys().get(device), nonce=status["nonce"], t=int(time.time()))
    except wire.WireError as e:
        raise CommandError(str(e)) from None


def send_command(broker_url: str | BrokerAddress, device: str, cmd: str, args: dict | None = None, *,
                 cmd_id: str | None = None, timeout: float = 10.0, payload: bytes | None = None) -> str:
    """Publish ``cmd`` to ``device`` and wait until the broker has it; return the command id.

    ``payload``: the command already encoded (e.g. by :func:`signed_command`); by default an
    unsigned version 1 command, which only a device without a key obeys.

    Raises
    ------
    CommandError
        Unknown command, invalid device id, or broker unreachable.
    """
    if not wire.valid_device_id(device):
        raise CommandError(f"'{device}' is not a device id (1-32 of a-z, 0-9, '-', '_')")
    if payload is None:
        try:
            payload = wire.encode_command(cmd, cmd_id or uuid.uuid4().hex[:12], args)
        except wire.WireError as e:
            raise CommandError(str(e)) from None
    publish_message(broker_url, wire.topic_command(device), payload, qos=wire.QOS_COMMAND, timeout=timeout,
                    what="the command")
    return json.loads(payload)["id"]


def publish_message(broker_url: str | BrokerAddress, topic: str, payload: bytes, *, qos: int, retain: bool = False,
                    timeout: float = 10.0, what: str = "the message") -> None:
    """Publish one message with the host's login and wait until the broker has it.

    Raises
    ------
    CommandError
        The broker is unreachable, refuses the login, or does not take the message.
    """
    address = broker_url if isinstance(broker_url, BrokerAddress) else BrokerAddress.parse(broker_url)
    broker_url = address.url  # without the password, for messages
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"tiesense-cmd-{uuid.uuid4().hex[:8]}")
    answered = threading.Event()
    connack = []
    client.on_connect = lambda c, u, f, rc, p: (connack.append(rc), answered.set())
    try:
        address.configure(client)
        client.connect(address.host, address.port, keepalive=30)
    except (OSError, ValueError) as e:
        raise CommandError(f"cannot reach the broker at {broker_url}: {getattr(e, 'strerror', None) or e}") from None
    client.loop_start()
    try:
        if not answered.wait(timeout):
            raise CommandError(f"the broker at {broker_url} did not answer the login within {timeout:g} s")
        if connack[0].is_failure:
            raise CommandError(f"the broker at {broker_url} refused the login ({connack[0]}): this needs the "
                               "host's login, --broker mqtt://tiesense-host@HOST:PORT --password-file FILE "
                               "(see docs/operations.md)")
        info = client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise CommandError(f"the broker at {broker_url} did not take {what} within {timeout:g} s")
    finally:
        client.loop_stop()
        client.disconnect()
