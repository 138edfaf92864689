# heap: 254K (the RAM disks this suite mounts live in the same heap as the code under test)
# Power cuts against the flash log: littlefs on a RAM block device whose
# program/erase operations stop (the last one torn in half) after N
# operations, for every N across two workloads: appends with acks and
# compactions interleaved; and a flash filled until StorageFull, then every
# record acked (segments deleted on the full flash), then appends again.
# After each cut the disk is remounted and the log reopened: every record
# whose append() returned and was not acked must still be pending with the
# same bytes, no acked record may come back, nothing is duplicated, and the
# next seq is above every seq ever returned.
import gc
import os
import vfs

import wire
from log import Log, StorageFull, instance_id_of
from ramdisk import RAMBlockDev
from runner import check_eq, run

_MP = "/pc"
_RECORDS = 10
_BS = 512
_BLOCKS = 48
_FLASH = bytearray(_BS * _BLOCKS)  # the device under test
_AFTER = bytearray(_BS * _BLOCKS)  # the same flash after the power cut


def rec(i):
    iid = wire.new_instance_id(os.urandom)
    return wire.make_record("k1", 0, "tp_visit", "2026112401", "2026-11-24T09:00:00Z",
                            "2026-11-24T09:01:00Z", {"facility": "incubation", "i": i}, iid)


def _append(lg, state, i):
    r = rec(i)
    state["trying"] = r["id"]
    seq = lg.append(r)
    state["returned"][seq] = r["id"]


def _ack(lg, state, s):
    state["acking"] = s
    if lg.ack(s, state["returned"][s]):
        state["acked"].add(s)
    state["acking"] = None


def interleaved(state):
    """Appends with acks and compactions interleaved; records what returned."""
    lg = Log(_MP + "/data")
    state["log"] = lg
    for i in range(_RECORDS):
        _append(lg, state, i)
        if i % 3 == 2:
            for s in list(lg.seqs())[:2]:  # ack the oldest two unacked
                _ack(lg, state, s)
        if i % 4 == 3:
            lg.compact()
    return lg


def fill_free_refill(state):
    """Appends until StorageFull, every record acked, compact, then appends again."""
    lg = Log(_MP + "/data")
    state["log"] = lg
    i = 0
    while True:
        try:
            _append(lg, state, i)
        except StorageFull:
            state["full"] += 1
            state["segments"] = len([n for n in os.listdir(_MP + "/data") if n.startswith("seg.")])
            break
        i += 1
    state["trying"] = None
    for s, p in lg.pending():
        _ack(lg, state, s)
    lg.compact()
    for j in range(4):
        _append(lg, state, i + j)
    return lg


def check_after(bdev, state):
    vfs.mount(vfs.VfsLfs2(bdev), _MP)
    try:
        lg = Log(_MP + "/data")
        pend = list(lg.pending())
        seqs = [s for s, _ in pend]
        check_eq(len(seqs), len(set(seqs)), "duplicate seq")
        iids = [instance_id_of(p) for _, p in pend]
        check_eq(len(iids), len(set(iids)), "duplicate instance id")
        returned = state["returned"]
        for s, p in pend:
            iid = instance_id_of(p).decode()
            if s in returned:
                check_eq(iid, returned[s], "seq %d holds another record" % s)
            else:
                # only the append that was cut may have landed
                check_eq(iid, state["trying"], "unknown record %d" % s)
            assert s not in state["acked"], "acked seq %d came back" % s
        for s in returned:
            if s not in state["acked"] and s != state["acking"]:
                assert s in seqs, "returned seq %d lost" % s
        top = max([0] + list(returned.keys()) + seqs)
        nxt = lg.next_seq()
        assert nxt > top, "seq %d reused (top %d)" % (nxt, top)
        if not lg.storage_full():
            check_eq(lg.append(rec(99)), nxt)
        lg.close()
    finally:
        vfs.umount(_MP)


def one_run(workload, blocks, fail_after):
    gc.collect()
    bdev = RAMBlockDev(_BS, blocks, _FLASH)
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), _MP)
    bdev.ops = 0
    bdev.fail_after = fail_after
    state = {"returned": {}, "acked": set(), "trying": None, "acking": None, "log": None, "full": 0}
    cut = False
    try:
        lg = workload(state)
        lg.close()
    except OSError:
        cut = True
        if state["log"] is not None:
            state["log"].close()  # dead device: errors ignored, no finaliser later
    ops = bdev.ops
    try:
        vfs.umount(_MP)
    except OSError:
        pass
    check_after(bdev.power_on(_AFTER), state)
    return cut, ops, state


def every_cut(workload, blocks):
    cut, total, state = one_run(workload, blocks, None)
    assert not cut
    cuts = 0
    for fail_after in range(total):
        if one_run(workload, blocks, fail_after)[0]:
            cuts += 1
    print("  %s: %d block operations, %d cut points checked" % (workload.__name__, total, cuts))
    assert cuts >= total - 1, "most cut points must actually interrupt the workload"
    return total, state


def test_power_cut_every_point():
    total, state = every_cut(interleaved, _BLOCKS)
    check_eq(len(state["returned"]), _RECORDS)
    assert total > 20, "workload too small to be interesting: %d ops" % total


def test_power_cut_every_point_with_a_full_flash():
    # 16 KiB: several segments fill it, few enough records to cut everywhere quickly
    total, state = every_cut(fill_free_refill, 32)
    check_eq(state["full"], 1, "the flash filled")
    n = len(state["returned"])
    print("  %d records in %d segments filled the disk" % (n - 4, state["segments"]))
    assert n > 12 and state["segments"] >= 3, "only %d records filled the disk" % n
    check_eq(len(state["acked"]), n - 4, "every record of the full flash acked")


run(globals())
