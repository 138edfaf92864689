# heap: 254K (the RAM disk of the flash-full case lives in the same heap as the client)
# firmware/mqtt.py's spooling of deliveries larger than its receive buffer: the
# payload streams into a file a buffer at a time (over a real loopback TCP
# socket, with no copy of the whole payload on the heap), the application gets
# the path once the last byte is written, and a payload cut short (connection
# lost, flash full) leaves no file and no callback; the stream stays in step.
import gc
import os
import socket
import vfs

from fakesock import FakeSocket
from mqtt import ConnectionLost, MQTTClient, encode_length
from ramdisk import RAMBlockDev
from runner import check_eq, raises, run

_CONNACK_OK = b"\x20\x02\x00\x00"
_DIR = "/tmp/tiesense-spool-" + "".join(["%02x" % x for x in os.urandom(4)])
try:
    os.mkdir(_DIR)
except OSError:
    pass


def publish_packet(topic, payload, qos=1, pid=9, retain=True):
    """The bytes of one PUBLISH as a broker sends it (MQTT 3.1.1 section 3.3)."""
    t = topic.encode()
    n = 2 + len(t) + (2 if qos else 0) + len(payload)
    head = bytearray(5)
    head[0] = 0x30 | (qos << 1) | (1 if retain else 0)
    end = encode_length(head, 1, n)
    out = bytes(head[:end]) + bytes([len(t) >> 8, len(t) & 0xFF]) + t
    if qos:
        out += bytes([pid >> 8, pid & 0xFF])
    return out + payload


class App:
    """The application's side: spools one topic to ``path``, collects what arrives."""

    def __init__(self, client, path, topic="big/form", read=True):
        self.path = path
        self.read = read
        self.topic = topic
        self.asked = []
        self.spooled = []
        self.small = []
        client.set_callback(lambda t, m, r: self.small.append((t, bytes(m))))
        client.set_spool(self.open_spool, self.on_spooled)
        self.client = client

    def open_spool(self, topic, size):
        self.asked.append((topic, size))
        return self.path if topic == self.topic else None

    def on_spooled(self, topic, path, retained):
        if not self.read:
            self.spooled.append((topic, path, retained))
            return
        with open(path, "rb") as f:
            data = f.read()
        self.spooled.append((topic, path, retained, data, len(self.client.sock.writes)))


def listener():
    """A listening TCP socket on 127.0.0.1 and its port (the unix port has no getsockname)."""
    port = 20000 + os.urandom(2)[0] * 100
    while True:
        srv = socket.socket()
        try:
            srv.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
        except OSError:
            srv.close()
            port += 1
            continue
        srv.listen(1)
        return srv, port


def fake_client(rx_size=64):
    c = MQTTClient("k1", rx_size=rx_size)
    s = FakeSocket(_CONNACK_OK)
    c.connect(sock=s)
    s.writes.clear()
    return c, s


def payload(n):
    return (b"0123456789abcdefghijklmnopqrstuvwxyz" * (n // 36 + 1))[:n]


def test_a_delivery_over_the_buffer_is_spooled_whole_then_acked():
    c, s = fake_client(rx_size=64)
    app = App(c, _DIR + "/a.part")
    body = payload(1000)
    s.feed(publish_packet("big/form", body, pid=9) + publish_packet("small", b"hi", qos=0))
    check_eq(c.check_msg(), 2)
    check_eq(app.asked, [("big/form", 1000)], "asked with the payload's size")
    check_eq(len(app.spooled), 1)
    topic, path, retained, data, writes_before = app.spooled[0]
    check_eq((topic, path, retained), ("big/form", _DIR + "/a.part", True))
    check_eq(data, body, "the file holds the payload byte for byte")
    check_eq(writes_before, 0, "the file is the application's before the PUBACK goes")
    check_eq(s.writes, [b"\x40\x02\x00\x09"], "PUBACK after the spooled callback")
    check_eq(app.small, [("small", b"hi")], "the next message on the ordinary path")
    check_eq(c.dropped, 0)
    os.remove(path)


def test_a_topic_the_application_does_not_spool_is_dropped_and_acked():
    c, s = fake_client(rx_size=64)
    app = App(c, _DIR + "/b.part")
    s.feed(publish_packet("other/form", payload(500), pid=3) + publish_packet("small", b"ok", qos=0))
    c.check_msg()
    check_eq(app.spooled, [])
    check_eq(c.dropped, 1)
    check_eq(s.writes, [b"\x40\x02\x00\x03"])
    check_eq(app.small, [("small", b"ok")], "still in step with the stream")
    raises(OSError, os.stat, _DIR + "/b.part")


def test_a_connection_lost_mid_payload_leaves_no_file_and_no_form():
    c, s = fake_client(rx_size=64)
    app = App(c, _DIR + "/c.part")
    s.feed(publish_packet("big/form", payload(1000))[:700])  # the broker (or the Wi-Fi) goes mid-way
    s.eof = True
    raises(ConnectionLost, c.check_msg)
    check_eq(app.spooled, [], "a partial payload is never handed over")
    raises(OSError, os.stat, _DIR + "/c.part")
    check_eq(s.writes, [], "nothing acked: the broker sends it again at the next connect")
    assert s.closed


def test_a_full_flash_drops_the_delivery_removes_the_file_and_keeps_in_step():
    bdev = RAMBlockDev(512, 40)  # 20 KiB of littlefs
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), "/sp")
    try:
        c, s = fake_client(rx_size=256)
        app = App(c, "/sp/d.part")
        s.feed(publish_packet("big/form", payload(30000), pid=5) + publish_packet("small", b"next", qos=0))
        check_eq(c.check_msg(), 2)
        check_eq(app.spooled, [])
        check_eq(c.dropped, 1)
        check_eq(os.listdir("/sp"), [], "the partial file is removed")
        check_eq(s.writes, [b"\x40\x02\x00\x05"], "acked: it would fail the same way again")
        check_eq(app.small, [("small", b"next")])
        st = os.statvfs("/sp")
        assert st[3] * st[1] > 15000, "the flash is free again"
    finally:
        vfs.umount("/sp")


def test_a_malformed_length_closes_the_connection():
    c, s = fake_client(rx_size=16)
    App(c, _DIR + "/e.part")
    s.feed(b"\x30\x14\x00\x40" + b"x" * 18)  # remaining length 20, topic length 64
    raises(ConnectionLost, c.check_msg)
    assert s.closed


def test_over_a_real_socket_the_payload_is_never_held_whole_on_the_heap():
    # A loopback TCP connection: the test plays the broker on one end, the client reads the other.
    gc.collect()  # the RAM disk of the test before
    srv, port = listener()
    c = MQTTClient("k1", rx_size=4096)
    app = App(c, _DIR + "/f.part", read=False)
    sock = socket.socket()
    sock.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    broker, _addr = srv.accept()
    broker.write(_CONNACK_OK)  # waits in the kernel until the client reads it
    c.connect(sock=sock)
    check_eq(broker.recv(64)[0], 0x10, "CONNECT")
    body = payload(40000)
    broker.write(publish_packet("big/form", body, pid=77))
    gc.collect()
    gc.disable()  # every allocation during the receive counts: nothing is freed meanwhile
    try:
        before = gc.mem_alloc()
        handled = 0
        while not app.spooled:
            handled += c.check_msg()
        grew = gc.mem_alloc() - before
    finally:
        gc.enable()
    check_eq(handled, 1)
    assert grew < 4000, "the receive took %d bytes of heap for a %d-byte payload" % (grew, len(body))
    with open(_DIR + "/f.part", "rb") as f:
        check_eq(f.read(), body, "40,000 bytes through a 4,096-byte buffer")
    check_eq(broker.recv(4), b"\x40\x02\x00\x4d", "PUBACK 77")
    c.close()
    broker.close()
    srv.close()
    os.remove(_DIR + "/f.part")


run(globals())
