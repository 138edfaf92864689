# A serial line for firmware/offload.py without a tty: what the test puts in `inbox` arrives in
# pieces of at most `piece` bytes (split anywhere, as a USB line may), and what the device writes
# collects in `out`.


class FakePort:
    def __init__(self, piece=7):
        self.piece = piece
        self.inbox = b""
        self.out = b""
        self.opened = 0

    def open(self):
        self.opened += 1

    def readinto(self, buf):
        n = min(len(buf), len(self.inbox), self.piece)
        buf[:n] = self.inbox[:n]
        self.inbox = self.inbox[n:]
        return n

    def write(self, data):
        self.out += bytes(data)

    def close(self):
        pass
