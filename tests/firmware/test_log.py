# heap: 254K (the RAM disks this suite mounts live in the same heap as the code under test)
# The flash record log (firmware/log.py) on a littlefs RAM disk: append and
# reopen, the segment ring, torn last line, ack-gated delete of whole
# segments with nothing copied, seq never reused, StorageFull before
# anything is written, the v2 payload's instance id, firmware 0.1's log
# taken over in place. (The index's size: test_log_backlog.py.)
import binascii
import gc
import os
import vfs

import wire
from log import Log, StorageFull, instance_id_of
from ramdisk import RAMBlockDev, fill_with_file
from runner import check_eq, raises, run

_n = [0]


_dev = [None]


def fresh(block_size=512, blocks=64):
    """Mount a new littlefs RAM disk (unmounting the last one) and return its mount point."""
    if _n[0] > 0:
        vfs.umount("/lfs%d" % _n[0])
        _n[0] = -_n[0]
    _dev[0] = None
    gc.collect()
    gc.collect()  # the second frees what the first ran finalisers (open files) for
    bdev = RAMBlockDev(block_size, blocks)
    vfs.VfsLfs2.mkfs(bdev)
    _n[0] = abs(_n[0]) + 1
    _dev[0] = bdev
    mp = "/lfs%d" % _n[0]
    vfs.mount(vfs.VfsLfs2(bdev), mp)
    return mp


def rec(i):
    iid = wire.new_instance_id(os.urandom)
    return wire.make_record("k1", 0, "tp_visit", "2026112401", "2026-11-24T09:00:00Z",
                            "2026-11-24T09:00:%02dZ" % (i % 60), {"facility": "shared_lab", "n": i}, iid)


def files(mp):
    return sorted([n for n in os.listdir(mp + "/data")])


def size(path):
    return os.stat(path)[6]


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
    check_eq(bytes(lg.get(2)), wire.encode_record(r2))
    check_eq(instance_id_of(got[1][1]), r2["id"].encode())
    check_eq([s for s, _ in lg.pending(skip={1})], [2], "in-flight seqs skipped")
    check_eq([s for s, _ in lg.pending(after=1)], [2])
    check_eq(lg.append(rec(3)), 3)
    check_eq(files(mp), ["seg.1"], "the reopened segment takes more records")
    check_eq(list(lg.seqs()), [1, 2, 3])


def test_line_format():
    mp = fresh()
    lg = Log(mp + "/data")
    r = rec(1)
    lg.append(r)
    lg.close()
    with open(mp + "/data/seg.1", "rb") as f:
        line = f.read()
    payload = wire.encode_record(r)
    crc = binascii.crc32(payload, binascii.crc32(b"1 "))
    check_eq(line, b"1 " + ("%08x" % crc).encode() + b" " + payload + b"\n")


def test_segments_close_at_two_blocks_or_30_records():
    mp = fresh()
    lg = Log(mp + "/data")
    for i in range(12):
        lg.append(rec(i))
    names = files(mp)
    assert len(names) >= 3, names
    firsts = sorted([int(n[4:]) for n in names])
    check_eq(firsts[0], 1)
    for n in names:
        assert size(mp + "/data/" + n) <= 2 * 512 - 8, n
    small = Log(mp + "/small", max_record=60, encode=lambda r, seq: b"%d,x" % seq)
    for i in range(31):
        small.append({})
    check_eq(sorted(os.listdir(mp + "/small")), ["seg.1", "seg.31"], "30 records at most per segment")
    small.close()
    lg.close()
    lg = Log(mp + "/data")
    check_eq(list(lg.seqs()), list(range(1, 13)))


def test_torn_last_line_dropped():
    mp = fresh()
    lg = Log(mp + "/data")
    lg.append(rec(1))
    lg.append(rec(2))
    lg.close()
    with open(mp + "/data/seg.1", "rb") as f:
        data = f.read()
    with open(mp + "/data/seg.1", "wb") as f:
        f.write(data[:-20])  # seq 2 cut mid-payload: no newline, bad CRC
    lg = Log(mp + "/data")
    check_eq(lg.dropped, 1)
    check_eq(list(lg.seqs()), [1])
    # The torn record's seq may be issued again only because its append
    # never returned; it goes to a new segment, never after the torn bytes.
    s = lg.append(rec(3))
    check_eq(s, 2)
    check_eq(files(mp), ["seg.1", "seg.2"])
    lg.close()
    lg = Log(mp + "/data")
    check_eq(list(lg.seqs()), [1, 2])
    check_eq(lg.dropped, 1, "the torn bytes stay, skipped, until their segment goes")


def test_corrupt_crc_dropped():
    mp = fresh()
    lg = Log(mp + "/data")
    lg.append(rec(1))
    lg.close()
    with open(mp + "/data/seg.1", "rb") as f:
        data = bytearray(f.read())
    data[-5] ^= 1
    with open(mp + "/data/seg.1", "wb") as f:
        f.write(data)
    lg = Log(mp + "/data")
    check_eq(list(lg.seqs()), [])
    check_eq(lg.dropped, 1)
    check_eq(lg.append(rec(2)), 1, "nothing of seq 1 survived: it was never returned whole")


def test_ack_gated_delete():
    mp = fresh()
    lg = Log(mp + "/data")
    r1, r2, r3 = rec(1), rec(2), rec(3)
    for r in (r1, r2, r3):
        lg.append(r)
    check_eq(lg.ack(2, rec(9)["id"]), False, "wrong instance id refused")
    check_eq(lg.ack(7, r2["id"]), False, "unknown seq refused")
    check_eq(lg.ack(0, r2["id"]), False, "seq 0 refused")
    check_eq(lg.ack(2, r1["id"]), False, "id of another record refused")
    check_eq(lg.depth(), 3)
    check_eq(lg.ack(2, r2["id"]), True)
    check_eq(lg.ack(2, r2["id"]), False, "second ack is a no-op")
    check_eq(list(lg.seqs()), [1, 3])
    check_eq(lg.get(2), None)
    lg.close()
    lg = Log(mp + "/data")
    check_eq(list(lg.seqs()), [1, 3], "ack survives reopen")
    check_eq([s for s, _ in lg.pending()], [1, 3])
    check_eq(lg.acked_in_file(), 1)


def test_acked_segment_deleted_nothing_copied():
    mp = fresh()
    lg = Log(mp + "/data")
    rs = [rec(i) for i in range(10)]
    for r in rs:
        lg.append(r)
    names = files(mp)
    firsts = sorted([int(n[4:]) for n in names])
    assert len(firsts) >= 3
    keep = {}
    for n in names:
        with open(mp + "/data/" + n, "rb") as f:
            keep[n] = f.read()
    second = firsts[1]
    # ack the whole first segment, out of order
    for s in reversed(range(1, second)):
        assert lg.ack(s, rs[s - 1]["id"])
    check_eq(files(mp), sorted([n for n in names if n != "seg.1"] + ["hwm"]), "first segment and its acks deleted")
    for n in files(mp):
        if n != "hwm":
            with open(mp + "/data/" + n, "rb") as f:
                check_eq(f.read(), keep[n], "segment %s rewritten" % n)
    check_eq(lg.acked_in_file(), 0)
    with open(mp + "/data/hwm") as f:
        check_eq(int(f.read()), 10, "hwm written before deleting")
    # one ack in a later segment: an ack file appears, the segment stays
    assert lg.ack(second + 1, rs[second]["id"])
    assert "ack.%d" % second in files(mp)
    check_eq(lg.acked_in_file(), 1)
    check_eq(lg.depth(), 10 - (second - 1) - 1)
    # pending while acking: no file stays open across a yield
    got = []
    for s, p in lg.pending():
        got.append(s)
        assert lg.ack(s, instance_id_of(p))
    check_eq(got, [s for s in range(second, 11) if s != second + 1])
    check_eq(lg.depth(), 0)
    last = "%d" % max([int(n[4:]) for n in names])
    for n in files(mp):
        assert n in ("hwm", "seg." + last, "ack." + last), "%s left after every record was acked" % n
    lg.compact()
    check_eq(files(mp), ["hwm"])
    check_eq(lg.append(rec(11)), 11)
    check_eq(files(mp), ["hwm", "seg.11"])


def test_failed_append_burns_its_seq_and_the_log_goes_on():
    mp = fresh()
    bdev = _dev[0]
    lg = Log(mp + "/data")
    rs = {}
    for i in range(2):
        r = rec(i)
        rs[lg.append(r)] = r["id"]
    bdev.ops = 0
    bdev.fail_after = 0  # the next block write fails (half written), then the flash works again
    raises(OSError, lg.append, rec(2))
    bdev.fail_after = None
    bdev.dead = False
    for i in range(3, 9):
        r = rec(i)
        rs[lg.append(r)] = r["id"]
    check_eq(sorted(rs), [1, 2, 4, 5, 6, 7, 8, 9], "seq 3 not issued again")
    check_eq(list(lg.seqs()), sorted(rs))
    check_eq(lg.depth(), 8)
    for s in sorted(rs):
        assert lg.ack(s, rs[s]), s
    lg.compact()
    check_eq(lg.depth(), 0)
    lg.close()
    lg = Log(mp + "/data")
    for s in lg.seqs():
        assert s not in rs, "acked seq %d came back" % s
    assert lg.next_seq() > 9


def test_reopened_newest_segment_not_continued_across_a_gap():
    mp = fresh()
    bdev = _dev[0]
    lg = Log(mp + "/data")
    r1, r2 = rec(1), rec(2)
    lg.append(r1)
    bdev.ops = 0
    bdev.fail_after = 0
    raises(OSError, lg.append, rec(9))  # seq 2 burnt
    bdev.fail_after = None
    bdev.dead = False
    check_eq(lg.append(r2), 3)
    assert lg.ack(3, r2["id"])
    lg.compact()  # seg.3 goes, hwm 3 saved; seg.1 holds seq 1 only
    lg.close()
    lg = Log(mp + "/data")
    r4 = rec(4)
    check_eq(lg.append(r4), 4)
    check_eq(files(mp), ["hwm", "seg.1", "seg.4"])
    check_eq(lg.depth(), 2)
    assert lg.ack(1, r1["id"]) and lg.ack(4, r4["id"])
    lg.compact()
    check_eq(files(mp), ["hwm"])


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
    check_eq(files(mp), ["hwm"], "log empty")
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
    check_eq(files(mp), ["hwm"], "the all-acked segment removed on open")
    check_eq(lg.append(rec(2)), 2)


def test_stale_tmp_and_lonely_ack_file_removed():
    mp = fresh()
    lg = Log(mp + "/data")
    lg.append(rec(1))
    lg.close()
    for name, data in (("hwm.tmp", b"9"), ("ack.7", b"0\n"), ("ack.1.tmp", b"0\n")):
        with open(mp + "/data/" + name, "wb") as f:
            f.write(data)
    lg = Log(mp + "/data")
    check_eq(list(lg.seqs()), [1])
    check_eq(files(mp), ["seg.1"])


def test_too_large_or_newline_refused():
    mp = fresh()
    lg = Log(mp + "/data")
    r = rec(1)
    r["answers"]["blob"] = "x" * 2000
    raises(ValueError, lg.append, r)
    check_eq(lg.depth(), 0)
    check_eq(lg.append(rec(2)), 1)
    nl = Log(mp + "/nl", encode=lambda r, seq: b"[1,\n]")
    raises(ValueError, nl.append, {})
    check_eq(os.listdir(mp + "/nl"), [])


def test_instance_id_ignores_answer_named_id():
    r = rec(1)
    r["answers"]["id"] = "uuid:00000000-0000-4000-8000-000000000000"
    r["seq"] = 1
    check_eq(instance_id_of(wire.encode_record(r)), r["id"].encode())


def test_v2_payload_and_ack():
    iid = "0f8fad5bd9cb469fa16570867728950e"
    check_eq(instance_id_of(b'[17,"' + iid.encode() + b'","tp_visit",1,2]'), iid.encode())
    check_eq(instance_id_of(b'[17,3]'), None)
    mp = fresh()
    ids = {}

    def enc(r, seq):
        ids[seq] = r["iid"]
        return ('[%d,"%s","tp_visit","2026112401",[3,1,4]]' % (seq, r["iid"])).encode()

    lg = Log(mp + "/data", encode=enc)
    a = lg.append({"iid": iid})
    b = lg.append({"iid": "1" * 32})
    check_eq(bytes(lg.get(a))[:5], b"[1,\"0")
    check_eq(lg.ack(a, "1" * 32), False)
    check_eq(lg.ack(a, iid), True)
    check_eq(lg.ack(b, ("1" * 32).encode()), True)
    check_eq(lg.depth(), 0)


def test_storage_full_refused_before_writing_then_freed():
    mp = fresh(512, 64)
    lg = Log(mp + "/data", reserve=4 * 512)
    rs = {}
    while not lg.storage_full():
        r = rec(len(rs))
        rs[lg.append(r)] = r["id"]
    assert len(rs) > 10, len(rs)
    before = [(n, size(mp + "/data/" + n)) for n in files(mp)]
    free = lg.free_bytes()
    assert free < 3 * 512, free
    e = raises(StorageFull, lg.append, rec(99))
    assert isinstance(e, OSError)
    check_eq(e.errno, 28)
    check_eq([(n, size(mp + "/data/" + n)) for n in files(mp)], before, "nothing written")
    check_eq(lg.next_seq(), len(rs) + 1, "no seq taken")
    # acks and deletions still go in on the full flash
    for s in sorted(rs):
        assert lg.ack(s, rs[s]), s
    lg.compact()
    check_eq(lg.depth(), 0)
    assert not lg.storage_full()
    assert lg.free_bytes() > free
    check_eq(lg.append(rec(100)), len(rs) + 1)
    lg.close()
    lg = Log(mp + "/data", reserve=4 * 512)
    check_eq(list(lg.seqs()), [len(rs) + 1])


def test_flash_filled_by_another_file():
    mp = fresh(512, 48)
    lg = Log(mp + "/data", reserve=4 * 512)
    lg.append(rec(1))
    fill_with_file(mp + "/big")  # e.g. a form
    # littlefs may then report 2**32 - 1 free blocks (one block counted twice)
    assert lg.storage_full()
    check_eq(lg.free_bytes(), 0)
    raises(StorageFull, lg.append, rec(2))
    os.remove(mp + "/big")
    assert not lg.storage_full()
    check_eq(lg.append(rec(3)), 2)


def test_capacity_caps_the_segments():
    mp = fresh()
    one = len(wire.encode_record(dict(rec(1), seq=1))) + 12
    cap = (wire.DEVICE_BATCH_BYTES - 48 + 22) + one + one // 2  # the largest record fits after one, not two
    lg = Log(mp + "/data", capacity=cap)
    lg.append(rec(1))
    assert not lg.storage_full()
    lg.append(rec(2))
    assert lg.storage_full()
    assert lg.free_bytes() < cap - 2 * (one - 12)
    raises(StorageFull, lg.append, rec(3))
    check_eq(lg.depth(), 2)


def test_old_log_taken_over_in_place():
    mp = fresh()
    d = mp + "/data"
    os.mkdir(d)
    rs = {}
    with open(d + "/log", "wb") as f:
        for seq in (3, 4, 6, 7, 8):  # 1, 2, 5 compacted away by firmware 0.1
            r = rec(seq)
            r["seq"] = seq
            p = wire.encode_record(r)
            rs[seq] = (r["id"], p)
            sb = str(seq).encode()
            crc = binascii.crc32(p, binascii.crc32(sb + b" ")) & 0xFFFFFFFF
            f.write(sb + b" " + ("%08x" % crc).encode() + b" " + p + b"\n")
    with open(d + "/acks", "wb") as f:
        for seq in (4, 7):
            sb = str(seq).encode()
            iid = rs[seq][0].encode()
            crc = binascii.crc32(iid, binascii.crc32(sb + b" ")) & 0xFFFFFFFF
            f.write(sb + b" " + iid + b" " + ("%08x" % crc).encode() + b"\n")
    with open(d + "/hwm", "wb") as f:
        f.write(b"2")
    lg = Log(d)
    check_eq(files(mp), ["ack.3", "hwm", "seg.3"])
    check_eq(list(lg.seqs()), [3, 6, 8])
    check_eq(bytes(lg.get(6)), rs[6][1])
    check_eq(lg.append(rec(9)), 9, "seqs go on after the old log's")
    for s in (3, 6, 8):
        assert lg.ack(s, rs[s][0])
    check_eq(files(mp), ["hwm", "seg.9"], "the old log went as one segment")
    lg.close()
    lg = Log(d)
    check_eq(list(lg.seqs()), [9])


run(globals())
