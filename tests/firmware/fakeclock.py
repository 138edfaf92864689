# A ticks clock the test moves by hand, with MicroPython's modular ticks
# arithmetic (the period is 2**30 ms on the unix port and the rp2), so
# firmware code can be driven across the ticks wrap.
PERIOD = 1 << 30


class FakeClock:
    def __init__(self, start=1000):
        self.t = start

    def ticks_ms(self):
        return self.t

    def ticks_diff(self, a, b):
        return ((a - b + PERIOD // 2) & (PERIOD - 1)) - PERIOD // 2

    def ticks_add(self, t, delta):
        return (t + delta) & (PERIOD - 1)

    def advance(self, ms):
        self.t = self.ticks_add(self.t, ms)
