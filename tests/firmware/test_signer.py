# heap: 320K (the plain wire.sign_record, the reference here, needs record-sized blocks the signer avoids)
# Records signed in buffers taken at boot (firmware/signer.py): the bytes are
# wire.sign_record's, with a key and without, for a kiosk's record and a
# handheld's of nearly 4 KB; one record after another reuses the buffers (no
# record-sized allocation); a record json cannot write canonically, or one
# too big for the buffers, goes the plain way; and the log stores what it
# returns as it stores the plain bytes.
_FLASH = bytearray(512 * 64)  # the logs' flash, taken first

import gc
import vfs

import wire
from log import Log
from ramdisk import RAMBlockDev
from runner import check_eq, raises, run
from signer import Signer

KEY = bytes(range(32))


def record(answers, rid="ab" * 16):
    return wire.make_record_v2("fi_interview", "2026120101", 1795500000, 600, 3, 1200, wire.CLOCK_NTP, answers, rid)


def passes(n):
    return [[["1%02d" % k, ["collab", "supply"], 4, 2015, "formal", "f2f", 4, 5, "us", "both", 4, "park", ["1%02d" % (k + 1)]]
             for k in range(n)]]


def test_the_bytes_are_wire_sign_record_s_with_a_key_and_without():
    for key in (KEY, None):
        s = Signer("hh-01", key, 4048)
        for answers in (["lab", "sme", 3, None, ["a", "b"], "é 한"], passes(10), passes(40)):
            got = bytes(s.sign(record(answers), 7))
            check_eq(got, wire.sign_record(record(answers), 7, "hh-01", key))
    size = len(wire.sign_record(record(passes(40)), 7, "hh-01", KEY))
    check_eq(size > 2048, True, "a handheld-sized record: %d bytes" % size)


def test_one_record_after_another_takes_no_record_sized_block():
    s = Signer("hh-01", KEY, 4048)
    big = record(passes(40))
    s.sign(big, 1)
    gc.collect()
    before = gc.mem_alloc()
    for seq in range(2, 12):
        s.sign(big, seq)
    gc.collect()
    check_eq(gc.mem_alloc() - before < 256, True, "held after ten records: %d bytes" % (gc.mem_alloc() - before))


def test_a_record_with_a_dict_or_too_big_for_the_buffers_goes_the_plain_way():
    s = Signer("hh-01", KEY, 600)
    odd = record([{"b": 1, "a": 2}])
    check_eq(bytes(s.sign(odd, 3)), wire.sign_record(record([{"b": 1, "a": 2}]), 3, "hh-01", KEY))
    big = record(passes(10))
    check_eq(bytes(s.sign(big, 4)), wire.sign_record(record(passes(10)), 4, "hh-01", KEY))


def test_the_log_stores_the_signers_records_as_the_plain_ones():
    bdev = RAMBlockDev(512, 64, memoryview(_FLASH))
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), "/sg")
    root = "/sg"
    s = Signer("hh-01", KEY, 4048)
    a = Log(root + "/a", max_record=4048, encode=s.sign)
    b = Log(root + "/b", max_record=4048, encode=lambda rec, seq: wire.sign_record(rec, seq, "hh-01", KEY))
    for answers in (["x"], passes(10), ["y", 2]):
        check_eq(a.append(record(answers)), b.append(record(answers)))
    check_eq([a.get(q) for q in a.seqs()], [b.get(q) for q in b.seqs()])
    small = Log(root + "/c", max_record=500, encode=Signer("hh-01", KEY, 500).sign)
    e = raises(ValueError, small.append, record(passes(10)))
    check_eq("exceeds 500" in str(e), True, str(e))
    for log in (a, b, small):
        log.close()
    vfs.umount("/sg")


run(globals())
