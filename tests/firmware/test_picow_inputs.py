# The Pico W board's inputs (board/picow.py) with a fake `machine` and `network`. Keys: debounce
# reads the pin's level, so neither the bounce of a press nor the bounce of a long press's release
# is counted as another press, while quick genuine presses all count, even when the app loop is
# busy. Presence: the PIR's approaches (with their lockout) and its dwell, high time in ms.
import sys


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, n, mode=None, pull=None):
        self.n = n
        self.level = 1 if pull == 1 else 0
        self.handler = None

    def irq(self, trigger=None, handler=None):
        self.handler = handler

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v


class FakeMachine:
    Pin = Pin

    @staticmethod
    def I2C(*a, **k):
        raise OSError(19)  # no display: the board runs headless

    @staticmethod
    def disable_irq():
        return 0

    @staticmethod
    def enable_irq(state):
        pass


class Clock:
    t = 1000

    def ticks_ms(self):
        return self.t

    def ticks_diff(self, a, b):
        return ((a - b + (1 << 29)) & ((1 << 30) - 1)) - (1 << 29)

    def ticks_add(self, a, b):
        return (a + b) & ((1 << 30) - 1)


sys.modules["machine"] = FakeMachine
sys.modules["network"] = FakeMachine

import board.picow as picow  # noqa: E402
from runner import check_eq, run  # noqa: E402

clock = Clock()
picow.time = clock  # the board reads ticks through its module's `time`


def board():
    return picow.Board({"wifi_ssid": ""})


def edge(b, key, level, after_ms):
    clock.t += after_ms
    pin = b._buttons[("up", "down", "ok", "back").index(key)]
    pin.level = level
    pin.handler(pin)


def keys(b):
    b.poll()
    out = []
    k = b.next_key()
    while k is not None:
        out.append(k)
        k = b.next_key()
    return out


def test_press_and_release_bounce_count_once():
    b = board()
    edge(b, "ok", 0, 10)  # press
    edge(b, "ok", 1, 2)  # bounce
    edge(b, "ok", 0, 2)
    edge(b, "ok", 1, 2000)  # a long press, released ...
    edge(b, "ok", 0, 3)  # ... with a bounce
    edge(b, "ok", 1, 3)
    check_eq(keys(b), ["ok"], "one long press is one press")
    clock.t += 200
    b.poll()
    edge(b, "ok", 0, 1)  # the next genuine press
    edge(b, "ok", 1, 80)
    check_eq(keys(b), ["ok"])


def test_quick_presses_all_count_while_the_loop_is_busy():
    b = board()
    for _ in range(3):  # no poll() in between: the app loop is busy (e.g. a TLS handshake)
        edge(b, "down", 0, 100)
        edge(b, "down", 1, 80)
    check_eq(keys(b), ["down", "down", "down"])


def test_a_glitch_that_is_high_again_in_the_interrupt_is_no_press():
    b = board()
    pin = b._buttons[0]
    clock.t += 100
    pin.level = 1  # the falling edge fired, but the pin already reads high: noise
    pin.handler(pin)
    check_eq(keys(b), [])


def pir(b, level, after_ms):
    clock.t += after_ms
    b._pir.level = level
    b._pir.handler(b._pir)


def test_presence_counts_approaches_and_dwell():
    b = board()
    pir(b, 1, 100)  # someone comes ...
    pir(b, 0, 3000)  # ... stays 3 s
    pir(b, 1, 1000)  # back within the lockout: more dwell, not another approach
    clock.t += 500
    check_eq(b.dwell_ms(), 3500, "dwell so far, the one still there counted up to now")
    pir(b, 0, 1500)
    check_eq(b.dwell_ms(), 1500)
    b.poll()
    check_eq(b.approaches(), 1)
    pir(b, 1, 6000)  # after the lockout: a new approach
    pir(b, 0, 200)
    b.poll()
    check_eq((b.approaches(), b.dwell_ms()), (1, 200))


run(globals())
