# A RAM block device speaking MicroPython's extended block protocol, for
# mounting vfs.VfsLfs2 in tests. ``fail_after`` simulates a power cut: after
# that many program/erase operations the next one writes only half of its
# data and raises OSError, and every later one fails outright, until
# ``power_on()`` gives a fresh device holding the same bytes, like flash.
# ``data`` (and power_on's ``into``) let a test reuse its buffers: thousands
# of fresh 24 KiB bytearrays fragment a 190K heap.
import errno
import gc


class RAMBlockDev:
    def __init__(self, block_size=512, blocks=64, data=None):
        self.bs = block_size
        self.blocks = blocks
        self.data = bytearray(block_size * blocks) if data is None else data
        self._ff = b"\xff" * block_size
        self._mv = memoryview(self.data)
        self.ops = 0
        self.fail_after = None
        self.dead = False

    def power_on(self, into=None):
        """The flash after a power cycle: a new device with these bytes (copied into ``into`` if given).

        This one stays dead, so stale objects of the old mount (file
        finalisers) cannot write into the new one.
        """
        gc.collect()
        new = RAMBlockDev(self.bs, self.blocks, into)
        new.data[:] = self.data
        self.dead = True
        return new

    def _op(self):
        # An error is returned, not raised: littlefs then fails the call
        # quietly (a raise inside a file finaliser would print a traceback).
        # Returns 1 to go ahead, 0 for the torn operation, -1 when dead.
        if self.dead:
            return -1
        self.ops += 1
        if self.fail_after is not None and self.ops > self.fail_after:
            self.dead = True
            return 0
        return 1

    def readblocks(self, block, buf, off=0):
        a = block * self.bs + off
        n = len(buf)
        try:
            buf[:] = self._mv[a:a + n]  # the memoryview slice is one small allocation
        except MemoryError:
            # littlefs called in with the heap locked (a file finaliser during gc): no allocation
            d = self.data
            for i in range(n):
                buf[i] = d[a + i]

    def writeblocks(self, block, buf, off=None):
        if off is None:
            off = 0
        a = block * self.bs + off
        go = self._op()
        if go < 1:
            if go == 0:
                d = self.data
                for i in range(len(buf) // 2):
                    d[a + i] = buf[i]
            return -errno.EIO
        self.data[a:a + len(buf)] = buf
        return 0

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.bs
        if op == 6:
            if self._op() < 1:
                return -errno.EIO
            a = arg * self.bs
            self.data[a:a + self.bs] = self._ff
            return 0
        return 0


def fill_with_file(path, chunk=512):
    """Write a file at ``path`` until the filesystem refuses (ENOSPC), as a big form would."""
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"x" * chunk)
                f.flush()
        except OSError:
            pass


def work_in_fresh_disk(at, home, data, blocks, block_size=512):
    """Unmount whatever is at ``at``, mount a freshly formatted littlefs there on ``data`` (a test's one
    buffer, sliced to ``blocks``) and work in it, as a device does in its root; ``home`` is where to stand
    while it is replaced."""
    import os
    import vfs

    os.chdir(home)
    try:
        vfs.umount(at)
    except OSError:
        pass
    gc.collect()
    bdev = RAMBlockDev(block_size, blocks, memoryview(data)[:block_size * blocks])
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), at)
    os.chdir(at)
    return bdev
