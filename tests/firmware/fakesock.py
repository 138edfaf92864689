# An in-memory socket for MQTT tests: bytes queued in ``rx`` are what the
# broker "sends"; every write() lands as one item in ``writes``. It is an
# io.IOBase stream with an ioctl, so select.poll works on it.
import io

_POLL = 3
_GET_FILENO = 10


class FakeSocket(io.IOBase):
    def __init__(self, rx=b""):
        self.rx = bytearray(rx)
        self.writes = []
        self.eof = False
        self.closed = False
        self.opts = []

    def feed(self, b):
        self.rx.extend(b)

    def readinto(self, buf, n=-1):
        if not self.rx:
            return 0 if self.eof else None
        n = min(len(buf), len(self.rx))
        for i in range(n):
            buf[i] = self.rx[i]
        self.rx = self.rx[n:]
        return n

    def write(self, b):
        if self.closed:
            raise OSError(9)
        self.writes.append(bytes(b))
        return len(b)

    def setsockopt(self, *a):
        self.opts.append(a)

    def close(self):
        self.closed = True

    def ioctl(self, req, arg):
        if req == _POLL:
            return 1 if (arg & 1) and (self.rx or self.eof) else 0
        if req == _GET_FILENO:
            return -1
        return 0
