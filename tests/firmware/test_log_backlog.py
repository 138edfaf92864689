# The flash log's RAM does not grow with its backlog: a RAM disk with the
# Pico W's 4 KiB blocks (allocated before the test runs) filled
# until StorageFull, then the log reopened over it. The old index held two
# integers per record in arrays that reallocated as they grew; this one holds
# one small entry per segment of up to 30 records.
import gc
import os
import vfs

import wire
from log import Log
from ramdisk import RAMBlockDev
from runner import check_eq, run

gc.collect()
_BDEV = RAMBlockDev(4096, 22)


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


def test_index_is_one_small_entry_per_segment():
    vfs.VfsLfs2.mkfs(_BDEV)
    vfs.mount(vfs.VfsLfs2(_BDEV), "/big")
    lg = Log("/big/data")
    n = 0
    while not lg.storage_full():
        lg.append(rec(n))
        n += 1
    segs = len([1 for name in os.listdir("/big/data") if name.startswith("seg.")])
    assert n >= 120, n
    assert segs <= n // 25 + 1, "%d segments for %d records: 27 of these fit two blocks" % (segs, n)
    lg.close()
    lg = None
    empty = footprint("/big/empty")[1]
    lg, used = footprint("/big/data")
    check_eq(lg.depth(), n)
    print("  %d records in %d segments: the open log takes %d bytes of heap, an empty one %d" % (n, segs, used, empty))
    # per record the old index took two 8-byte integers on this 64-bit port, in growing arrays
    assert used - empty < 8 * n, "%d bytes for %d records" % (used - empty, n)
    assert used - empty < 128 * segs, "%d bytes for %d segments" % (used - empty, segs)
    check_eq(sum([1 for _ in lg.seqs()]), n)
    check_eq(sum([1 for _ in lg.pending()]), n)
    lg.close()
    vfs.umount("/big")


run(globals())
