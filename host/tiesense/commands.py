"""Commands from the host to one device (sync, status, reboot, identify) over MQTT.

A command is a QoS 1 message on ``wire.topic_command(device)`` with an id the
device remembers, so a repeated delivery is carried out once. Commands are not
retained: a device that is offline when one is sent never sees it (a stale
"reboot" must not fire days later); send it again when the device is online
(its retained status says so).
"""
from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt

from . import wire
from .broker_address import BrokerAddress


class CommandError(RuntimeError):
    """The command could not be handed to the broker; the message says why."""


def send_command(broker_url: str | BrokerAddress, device: str, cmd: str, args: dict | None = None, *,
                 cmd_id: str | None = None, timeout: float = 10.0) -> str:
    """Publish ``cmd`` to ``device`` and wait until the broker has it; return the command id.

    Raises
    ------
    CommandError
        Unknown command, invalid device id, or broker unreachable.
    """
    if not wire.valid_device_id(device):
        raise CommandError(f"'{device}' is not a device id (1-32 of a-z, 0-9, '-', '_')")
    try:
        payload = wire.encode_command(cmd, cmd_id or uuid.uuid4().hex[:12], args)
    except wire.WireError as e:
        raise CommandError(str(e)) from None
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
            raise CommandError(f"the broker at {broker_url} refused the login ({connack[0]}): commands need the "
                               "host's login, --broker mqtt://tiesense-host@HOST:PORT --password-file FILE "
                               "(see docs/operations.md)")
        info = client.publish(wire.topic_command(device), payload, qos=wire.QOS_COMMAND)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise CommandError(f"the broker at {broker_url} did not take the command within {timeout:g} s")
    finally:
        client.loop_stop()
        client.disconnect()
    return wire.decode_command(payload)["id"]
