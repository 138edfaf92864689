# firmware/mqtt.py byte for byte against a fake socket (MQTT 3.1.1 spec
# section numbers in the comments).
import wire
from fakesock import FakeSocket
from mqtt import ConnectionLost, MQTTClient, MQTTError, encode_length
from runner import check_eq, raises, run

_CONNACK_OK = b"\x20\x02\x00\x00"


class Clock:
    def __init__(self):
        self.t = 0

    def ticks(self):
        return self.t

    def diff(self, a, b):
        return a - b


def connected(keepalive=60, clock=None):
    c = MQTTClient("k1", keepalive=keepalive, ticks_ms=clock and clock.ticks, ticks_diff=clock and clock.diff)
    s = FakeSocket(_CONNACK_OK)
    c.connect(sock=s)
    s.writes.clear()
    return c, s


def test_connect_with_will():
    c = MQTTClient("k1", keepalive=60)
    c.set_last_will(wire.topic_status("k1"), wire.encode_status(False), retain=True, qos=1)
    s = FakeSocket(_CONNACK_OK)
    check_eq(c.connect(sock=s), False, "session present")
    # 3.1: fixed header 0x10, remaining length 61; protocol name, level 4,
    # flags clean(0x02)|will(0x04)|will QoS 1(0x08)|will retain(0x20) = 0x2e,
    # keepalive 60; payload client id, will topic, will message.
    check_eq(s.writes, [b"\x10\x3d\x00\x04MQTT\x04\x2e\x00\x3c"
                  b"\x00\x02k1"
                  b"\x00\x15tiesense/v1/k1/status"
                  b'\x00\x16{"online":false,"v":1}'], "one write, exact bytes")


def test_connect_user_password_no_will():
    c = MQTTClient("dev", keepalive=30, user="u", password="pw")
    s = FakeSocket(_CONNACK_OK)
    c.connect(sock=s)
    check_eq(s.writes, [b"\x10\x16\x00\x04MQTT\x04\xc2\x00\x1e\x00\x03dev\x00\x01u\x00\x02pw"])


def test_connect_refused():
    c = MQTTClient("k1")
    s = FakeSocket(b"\x20\x02\x00\x05")
    e = raises(MQTTError, c.connect, None, 1883, s)
    assert "not authorized" in str(e), str(e)
    assert s.closed


def test_connect_closed_before_connack():
    c = MQTTClient("k1")
    s = FakeSocket()
    s.eof = True
    raises(ConnectionLost, c.connect, None, 1883, s)


def test_publish_qos1():
    c, s = connected()
    pid = c.publish("t/r", b"hello", qos=1)
    check_eq(pid, 1)
    # 3.3: 0x30 | QoS 1 << 1 = 0x32, length 12, topic, packet id 1, payload
    check_eq(s.writes, [b"\x32\x0c\x00\x03t/r\x00\x01hello"])
    assert 1 in c.inflight
    s.feed(b"\x40\x02\x00\x01")  # PUBACK 1
    check_eq(c.check_msg(), 1)
    assert 1 not in c.inflight
    check_eq(c.publish("t/r", b"x", qos=1), 2, "packet ids advance")


def test_publish_qos0_retained():
    c, s = connected()
    check_eq(c.publish("s", b"on", retain=True), 0)
    check_eq(s.writes, [b"\x31\x05\x00\x01son"])


def test_remaining_length_over_127():
    c, s = connected()
    payload = bytes(range(200))
    c.publish("t", payload)
    # 203 = 0x4b + 1 * 128: encoded 0xcb 0x01 (3.2.2.3)
    check_eq(s.writes, [b"\x30\xcb\x01\x00\x01t" + payload])
    buf = bytearray(4)
    check_eq(buf[:encode_length(buf, 0, 321)], bytearray(b"\xc1\x02"), "spec example 321")
    check_eq(buf[:encode_length(buf, 0, 16384)], bytearray(b"\x80\x80\x01"))
    check_eq(buf[:encode_length(buf, 0, 127)], bytearray(b"\x7f"))


def test_publish_larger_than_buffer():
    c = MQTTClient("k1", tx_size=64)
    s = FakeSocket(_CONNACK_OK)
    c.connect(sock=s)
    s.writes.clear()
    c.publish("t", b"z" * 300, qos=1)
    check_eq(len(s.writes), 1, "still one write")
    check_eq(s.writes[0][:7], b"\x32\xb1\x02\x00\x01t\x00")


def test_subscribe_and_suback():
    c, s = connected()
    c._pid = 1
    pid = c.subscribe("a/+", qos=1)
    check_eq(pid, 2)
    # 3.8: 0x82, length 8, packet id 2, filter, requested QoS 1
    check_eq(s.writes, [b"\x82\x08\x00\x02\x00\x03a/+\x01"])
    s.feed(b"\x90\x03\x00\x02\x01")
    c.check_msg()
    check_eq(c.subacks[2], (1,))


def test_incoming_publish_qos1_is_acked_after_callback():
    c, s = connected()
    got = []
    c.set_callback(lambda t, m, r: got.append((t, bytes(m), r, len(s.writes))))
    s.feed(b"\x33\x0c\x00\x03a/b\x00\x07hello")  # QoS 1, retained, pid 7
    c.check_msg()
    check_eq(got, [("a/b", b"hello", True, 0)], "callback before PUBACK")
    check_eq(s.writes, [b"\x40\x02\x00\x07"])


def test_incoming_too_large_dropped_but_acked():
    c = MQTTClient("k1", rx_size=16)
    s = FakeSocket(_CONNACK_OK)
    c.connect(sock=s)
    s.writes.clear()
    got = []
    c.set_callback(lambda t, m, r: got.append(bytes(m)))
    s.feed(b"\x32\x1f\x00\x01x\x00\x09" + b"y" * 26 + b"\x30\x04\x00\x01xz")
    c.check_msg()
    check_eq(got, [b"z"], "big one dropped, next one delivered")
    check_eq(c.dropped, 1)
    check_eq(s.writes, [b"\x40\x02\x00\x09"])


def test_check_msg_idle_does_not_block():
    c, s = connected()
    check_eq(c.check_msg(), 0)
    check_eq(s.writes, [])


def test_pingreq_and_keepalive_loss():
    clock = Clock()
    c, s = connected(keepalive=10, clock=clock)
    clock.t = 4000
    c.check_msg()
    check_eq(s.writes, [], "quiet for less than half the keepalive")
    clock.t = 5000
    c.check_msg()
    check_eq(s.writes, [b"\xc0\x00"], "PINGREQ")
    s.feed(b"\xd0\x00")
    clock.t = 6000
    c.check_msg()
    assert c._ping_at is None
    clock.t = 10000
    c.check_msg()  # second ping, never answered
    clock.t = 20001
    raises(ConnectionLost, c.check_msg)
    assert s.closed


def test_connection_loss_raises():
    c, s = connected()
    s.eof = True
    e = raises(ConnectionLost, c.check_msg)
    assert "closed" in str(e)
    raises(ConnectionLost, c.check_msg)  # stays lost until reconnect


def test_disconnect():
    c, s = connected()
    c.disconnect()
    check_eq(s.writes, [b"\xe0\x00"])
    assert s.closed


run(globals())
