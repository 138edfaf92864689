"""The Mosquitto fixture every chain test stands on: a real broker that routes retained QoS 1 messages."""
from __future__ import annotations

import queue

import paho.mqtt.client as mqtt


def test_mosquitto_fixture_routes_retained_qos1(mosquitto):
    got: queue.Queue = queue.Queue()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fixture-pub")
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    pub.publish("tiesense/v1/forms/x", b"hello", qos=1, retain=True).wait_for_publish(5)
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fixture-sub")
    sub.on_message = lambda c, u, m: got.put((m.topic, m.payload, m.retain))
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe("tiesense/v1/forms/+", qos=1)
    sub.loop_start()
    try:
        assert got.get(timeout=5) == ("tiesense/v1/forms/x", b"hello", True)
    finally:
        for c in (pub, sub):
            c.loop_stop()
            c.disconnect()
