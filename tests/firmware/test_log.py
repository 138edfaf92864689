# The flash record log (firmware/log.py) on a littlefs RAM disk: append and
# reopen, torn last line, ack-gated delete, compaction, seq never reused.
import os
import vfs

import wire
from log import Log, instance_id_of
from ramdisk import RAMBlockDev
from runner import check_eq, raises, run

_n = [0]


def fresh():
    """Mount a new littlefs RAM disk (unmounting the last one) and return its mount point."""
    if _n[0]:
        vfs.umount("/lfs%d" % _n[0])
    _n[0] += 1
    mp = "/lfs%d" % _n[0]
    bdev = RAMBlockDev(512, 64)
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), mp)
    return mp


def rec(i):
    iid = wire.new_instance_id(os.urandom)
    return wire.make_record("k1", 0, "tp_visit", "2026112401", "2026-11-24T09:00:00Z",
                            "2026-11-24T09:00:%02dZ" % (i % 60), {"facility": "shared_lab", "n": i}, iid)


def test_append_and_reopen():
    mp = fresh()
    lg = Log(mp + "/data")
    r1, r2 = rec(1), rec(2)
    check_eq(lg.append(r1), 1, "first seq")
    check_eq(lg.append(r2), 2, "second seq")
    check_eq(lg.depth(), 2)
    lg.close()
    lg = Log(mp + "/data")
    got = list(lg.pending())
    check_eq([s for s, _ in got], [1, 2])
    check_eq(bytes(got[0][1]), wire.encode_record(r1), "stored bytes are the canonical encoding")
    check_eq(instance_id_of(got[1][1]), r2["id"].encode())
    check_eq([s for s, _ in lg.pending(skip={1})], [2], "in-flight seqs skipped")
    check_eq(lg.append(rec(3)), 3)


def test_line_format():
    mp = fresh()
    lg = Log(mp + "/data")
    r = rec(1)
    lg.append(r)
    lg.close()
    with open(mp + "/data/log", "rb") as f:
        line = f.read()
    import binascii
    payload = wire.encode_record(r)
    crc = binascii.crc32(payload, binascii.crc32(b"1 "))
    check_eq(line, b"1 " + ("%08x" % crc).encode() + b" " + payload + b"\n")


def test_torn_last_line_dropped():
    mp = fresh()
    lg = Log(mp + "/data")
    lg.append(rec(1))
    lg.append(rec(2))
    lg.close()
    with open(mp + "/data/log", "rb") as f:
        data = f.read()
    with open(mp + "/data/log", "wb") as f:
        f.write(data[:-20])  # seq 2 cut mid-payload: no newline, bad CRC
    lg = Log(mp + "/data")
    check_eq(lg.dropped, 0, "damage repaired by compaction on open")
    check_eq(lg.seqs(), [1])
    # The torn record's seq may be issued again only because its append
    # never returned; the next append must start on a clean line.
    s = lg.append(rec(3))
    lg.close()
    lg = Log(mp + "/data")
    check_eq(lg.seqs(), [1, s])


def test_corrupt_crc_dropped():
    mp = fresh()
    lg = Log(mp + "/data")
    lg.append(rec(1))
    lg.close()
    with open(mp + "/data/log", "rb") as f:
        data = bytearray(f.read())
    data[-5] ^= 1
    with open(mp + "/data/log", "wb") as f:
        f.write(data)
    lg = Log(mp + "/data")
    check_eq(lg.seqs(), [])


def test_ack_gated_delete():
    mp = fresh()
    lg = Log(mp + "/data")
    r1, r2, r3 = rec(1), rec(2), rec(3)
    for r in (r1, r2, r3):
        lg.append(r)
    check_eq(lg.ack(2, rec(9)["id"]), False, "wrong instance id refused")
    check_eq(lg.ack(7, r2["id"]), False, "unknown seq refused")
    check_eq(lg.ack(2, r1["id"]), False, "id of another record refused")
    check_eq(lg.depth(), 3)
    check_eq(lg.ack(2, r2["id"]), True)
    check_eq(lg.ack(2, r2["id"]), False, "second ack is a no-op")
    check_eq(lg.seqs(), [1, 3])
    lg.close()
    lg = Log(mp + "/data")
    check_eq(lg.seqs(), [1, 3], "ack survives reopen")
    check_eq([s for s, _ in lg.pending()], [1, 3])


def test_compaction_keeps_unacked():
    mp = fresh()
    lg = Log(mp + "/data")
    rs = [rec(i) for i in range(6)]
    for r in rs:
        lg.append(r)
    for i in (0, 2, 3):
        assert lg.ack(i + 1, rs[i]["id"])
    before = os.stat(mp + "/data/log")[6]
    lg.compact()
    check_eq(lg.seqs(), [2, 5, 6])
    assert os.stat(mp + "/data/log")[6] < before
    check_eq(os.stat(mp + "/data/acks")[6], 0, "acks emptied")
    got = dict(lg.pending())
    check_eq(bytes(got[5]), wire.encode_record(rs[4]))
    lg.close()
    lg = Log(mp + "/data")
    check_eq(lg.seqs(), [2, 5, 6])
    assert lg.ack(5, rs[4]["id"])
    check_eq(lg.seqs(), [2, 6])


def test_seq_never_reused_after_compaction_empties():
    mp = fresh()
    lg = Log(mp + "/data")
    rs = [rec(i) for i in range(3)]
    for r in rs:
        lg.append(r)
    for i, r in enumerate(rs):
        assert lg.ack(i + 1, r["id"])
    lg.compact()
    check_eq(lg.depth(), 0)
    check_eq(os.stat(mp + "/data/log")[6], 0, "log empty")
    lg.close()
    lg = Log(mp + "/data")
    check_eq(lg.append(rec(4)), 4, "seq continues from the high-water mark")


def test_seq_never_reused_acked_not_compacted():
    mp = fresh()
    lg = Log(mp + "/data")
    r = rec(1)
    lg.append(r)
    assert lg.ack(1, r["id"])
    lg.close()
    lg = Log(mp + "/data")
    check_eq(lg.depth(), 0)
    check_eq(lg.append(rec(2)), 2)


def test_stale_tmp_removed():
    mp = fresh()
    lg = Log(mp + "/data")
    lg.append(rec(1))
    lg.close()
    with open(mp + "/data/log.tmp", "wb") as f:
        f.write(b"half a compaction")
    lg = Log(mp + "/data")
    check_eq(lg.seqs(), [1])
    raises(OSError, os.stat, mp + "/data/log.tmp")


def test_too_large_refused():
    mp = fresh()
    lg = Log(mp + "/data")
    r = rec(1)
    r["answers"]["blob"] = "x" * 2000
    raises(ValueError, lg.append, r)
    check_eq(lg.depth(), 0)
    check_eq(lg.append(rec(2)), 1)


def test_instance_id_ignores_answer_named_id():
    r = rec(1)
    r["answers"]["id"] = "uuid:00000000-0000-4000-8000-000000000000"
    r["seq"] = 1
    check_eq(instance_id_of(wire.encode_record(r)), r["id"].encode())


run(globals())
