# heap: 254K (the fake serial port's request and answer buffers live in the same heap as the code under test)
# firmware/offload.py without a tty: a fake port feeds request lines in
# pieces and keeps the answers. Frames match the host's, a RECORDS payload is
# the MQTT records message byte for byte, a damaged or overlong line asks for
# a resend, acks delete only when signed with the device key, and a step
# never blocks (it takes what has arrived and returns).
import json
import os

import config
import fakeport
import wire
from fakeclock import FakeClock
from log import Log
from offload import Offload, decode_frame, encode_frame
from runner import check_eq, run

KEY = bytes(range(32))
DEVICE = "hand-01"


class FakePort(fakeport.FakePort):
    def answers(self):
        lines = self.out.split(b"\n")
        self.out = b""
        return [decode_frame(ln) for ln in lines if ln]


def device(n):
    d = "/tmp/tiesense-offload-" + "".join(["%02x" % x for x in os.urandom(4)])
    os.mkdir(d)
    lg = Log(d, encode=lambda rec, seq: wire.sign_record(rec, seq, DEVICE, KEY))
    for i in range(n):
        lg.append(wire.make_record_v2("tp_visit", "2026112401", 1795510200 + i, 30, 1, i, 1,
                                      ["shared_lab", "sme", 1 + i % 5], wire.new_record_id(os.urandom)))
    cfg = dict(config.DEFAULTS, device=DEVICE, device_key="".join(["%02x" % b for b in KEY]), offload=True)
    port = FakePort()
    return Offload(cfg, FakeClock(), lg, port=port), port, lg


def ask(off, port, *frames):
    for f in frames:
        port.inbox += f
    for _ in range(200):
        off.service()
        if not port.inbox:
            break
    off.service()
    return port.answers()


def test_frames_round_trip():
    f = encode_frame(b"GET", 3, b"0 4096")
    check_eq(f, b"GET 3 0 4096 31675ec2\n", "same bytes as the host's encode_frame")
    check_eq(decode_frame(f[:-1]), (b"GET", 3, b"0 4096"))


def test_records_are_the_mqtt_message_and_resume_by_seq():
    off, port, lg = device(10)
    a = ask(off, port, encode_frame(b"HELLO", 1), encode_frame(b"LIST", 2), encode_frame(b"GET", 3, b"0 600"))
    check_eq([x[0] for x in a], [b"HELLO", b"LIST", b"RECORDS"])
    check_eq([x[1] for x in a], [1, 2, 3], "tags echoed")
    listed = json.loads(a[1][2])
    check_eq((listed["queue"], listed["first"], listed["last"], listed["signed"]), (10, 1, 10, True))
    parts = [p for s, p in lg.pending()]
    payload = a[2][2]
    got = json.loads(payload)["records"]
    k = len(got)
    check_eq(k > 1 and k < 10, True, "600 bytes hold a few records")
    check_eq(payload, wire.encode_batch_from_encoded(DEVICE, parts[:k], wire.VERSION), "records message bytes")
    a = ask(off, port, encode_frame(b"GET", 4, ("%d 65536" % got[-1][0]).encode()))
    check_eq([r[0] for r in json.loads(a[0][2])["records"]], list(range(k + 1, 11)), "the rest after that seq")
    check_eq(ask(off, port, encode_frame(b"GET", 5, b"10 65536"))[0][:2], (b"END", 5))
    check_eq(lg.depth(), 10, "nothing deleted by reading")


def test_damaged_and_overlong_lines_ask_for_a_resend():
    off, port, lg = device(2)
    bad = bytearray(encode_frame(b"LIST", 7))
    bad[1] ^= 1
    check_eq(ask(off, port, bytes(bad))[0][:2], (b"RETRY", 0))
    check_eq(ask(off, port, b"x" * 5000 + b"\n")[0][:2], (b"RETRY", 0))
    check_eq(ask(off, port, encode_frame(b"LIST", 8))[0][:2], (b"LIST", 8), "a clean frame after them")
    check_eq(ask(off, port, encode_frame(b"NOPE", 9))[0][:2], (b"ERR", 9))
    check_eq(ask(off, port, encode_frame(b"GET", 10, b"x"))[0][:2], (b"ERR", 10))


def test_only_a_signed_ack_deletes():
    off, port, lg = device(3)
    entries = [(s, wire.record_id(p).decode(), "stored") for s, p in lg.pending()]
    forged = wire.encode_acks(entries, 1024, wire.V2, DEVICE, bytes(32), 1795510300)[0]
    unsigned = wire.encode_acks(entries, 1024)[0]
    a = ask(off, port, encode_frame(b"ACK", 1, forged), encode_frame(b"ACK", 2, unsigned))
    check_eq([x[0] for x in a], [b"REFUSED", b"REFUSED"])
    check_eq((lg.depth(), off.refused), (3, 2))
    good = wire.encode_acks(entries[:2], 1024, wire.V2, DEVICE, KEY, 1795510300)[0]
    a = ask(off, port, encode_frame(b"ACK", 3, good), encode_frame(b"ACK", 4, good))
    check_eq([x[2] for x in a], [b'{"acked":2,"queue":1}', b'{"acked":0,"queue":1}'], "a repeated ack removes nothing")
    check_eq([s for s, p in lg.pending()], [3])


run(globals())
