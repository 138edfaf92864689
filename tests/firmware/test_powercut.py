# Power cuts against the flash log: littlefs on a RAM block device whose
# program/erase operations stop (the last one torn in half) after N
# operations, for every N across a workload of appends, acks and
# compactions. After each cut the disk is remounted and the log reopened:
# every record whose append() returned and was not acked must still be
# pending with the same bytes, no acked record may come back, nothing is
# duplicated, and the next seq is above every seq ever returned.
import gc
import os
import vfs

import wire
from log import Log, instance_id_of
from ramdisk import RAMBlockDev
from runner import check_eq, run

_MP = "/pc"
_RECORDS = 10


def rec(i):
    iid = wire.new_instance_id(os.urandom)
    return wire.make_record("k1", 0, "tp_visit", "2026112401", "2026-11-24T09:00:00Z",
                            "2026-11-24T09:01:00Z", {"facility": "incubation", "i": i}, iid)


def workload(state):
    """Appends with acks and compactions interleaved; records what returned."""
    lg = Log(_MP + "/data")
    state["log"] = lg
    for i in range(_RECORDS):
        r = rec(i)
        state["trying"] = r["id"]
        seq = lg.append(r)
        state["returned"][seq] = r["id"]
        if i % 3 == 2:
            # ack the oldest two unacked
            for s in lg.seqs()[:2]:
                state["acking"] = s
                if lg.ack(s, state["returned"][s]):
                    state["acked"].add(s)
                state["acking"] = None
        if i % 4 == 3:
            lg.compact()
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
        nxt = lg.append(rec(99))
        assert nxt > top, "seq %d reused (top %d)" % (nxt, top)
        lg.close()
    finally:
        vfs.umount(_MP)


def one_run(fail_after):
    gc.collect()
    bdev = RAMBlockDev(512, 48)
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), _MP)
    bdev.ops = 0
    bdev.fail_after = fail_after
    state = {"returned": {}, "acked": set(), "trying": None, "acking": None, "log": None}
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
    check_after(bdev.power_on(), state)
    return cut, ops, len(state["returned"])


def test_power_cut_every_point():
    cut, total, n = one_run(None)
    assert not cut
    check_eq(n, _RECORDS)
    assert total > 20, "workload too small to be interesting: %d ops" % total
    cuts = 0
    for fail_after in range(total):
        cut, _, _ = one_run(fail_after)
        if cut:
            cuts += 1
    print("  %d block operations in the workload, %d cut points checked" % (total, cuts))
    assert cuts >= total - 1, "most cut points must actually interrupt the workload"


run(globals())
