# heap: 254K (the RAM disks this suite mounts live in the same heap as the code under test)
# The flash log's RAM does not grow with its backlog: a RAM disk with the
# Pico W's 4 KiB blocks (80 KiB: what fits beside the code in this heap)
# filled until StorageFull, then the log reopened over it. The old index held
# two integers per record in arrays that reallocated as they grew, and a set
# of the acked ones; this one is a table of one entry per segment of up to 30
# records, allocated when the log opens and sized by the filesystem.
import gc
import os
import vfs

import wire
from log import Log, instance_id_of
from ramdisk import RAMBlockDev
from runner import check_eq, run

gc.collect()
_BDEV = RAMBlockDev(4096, 20)


def rec(i):
    return wire.make_record("kiosk-01", 0, "tp_visit", "2026112401", "2026-11-24T09:00:00Z",
                            "2026-11-24T09:01:%02dZ" % (i % 60),
                            {"facility": "business_support", "org_type": "research_institute", "satisfaction": 1 + i % 5},
                            wire.new_instance_id(os.urandom))


def footprint(root):
    gc.collect()
    gc.collect()
    before = gc.mem_alloc()
    lg = Log(root)
    gc.collect()
    return lg, gc.mem_alloc() - before


def test_the_open_log_takes_no_more_heap_with_a_backlog():
    vfs.VfsLfs2.mkfs(_BDEV)
    vfs.mount(vfs.VfsLfs2(_BDEV), "/big")
    lg = Log("/big/data")
    n = 0
    while not lg.storage_full():
        lg.append(rec(n))
        n += 1
    segs = len([1 for name in os.listdir("/big/data") if name.startswith("seg.")])
    assert n >= 100, n
    assert segs <= n // 12 + 1, "%d segments for %d records: 13 of these fit a 4 KiB block" % (segs, n)
    lg.close()
    lg = None
    empty, empty_used = footprint("/big/empty")
    lg, used = footprint("/big/data")
    check_eq(lg.depth(), n)
    print("  %d records in %d segments: the open log takes %d bytes of heap, an empty one %d"
          % (n, segs, used, empty_used))
    # the old index took 16 bytes per record on this 64-bit port (1,800 here)
    assert used - empty_used < 128, "%d bytes more for %d records" % (used - empty_used, n)
    check_eq(sum([1 for _ in lg.seqs()]), n)
    check_eq(sum([1 for _ in lg.pending()]), n)
    for s, p in lg.pending():
        assert lg.ack(s, instance_id_of(p)), s
    check_eq(lg.depth(), 0)
    check_eq(len(os.listdir("/big/data")), 3, "the newest segment (still taking records), its acks, hwm")
    lg.compact()
    check_eq(os.listdir("/big/data"), ["hwm"])
    lg.close()
    empty.close()
    vfs.umount("/big")


run(globals())
