# firmware/board/base.py's clock under the ticks wrap: MicroPython's ticks_ms()
# wraps after 2**30 ms (about 12.4 days, with differences valid within half of
# it), so uptime and deadlines must never be computed with '+' or from boot.
import board.base as base
from fakeclock import PERIOD as _PERIOD
from fakeclock import FakeClock
from runner import check_eq, run


def board_at(start):
    clock = FakeClock(start)
    base.time = clock  # the board reads time through its module's global
    return base.Board({}), clock


def test_uptime_keeps_counting_for_weeks_across_the_wrap():
    b, clock = board_at(_PERIOD - 5000)  # five seconds before the first wrap
    for _ in range(14 * 24 * 12):  # two weeks of status every five minutes
        clock.advance(300_000)
        b.uptime_s()
    check_eq(b.uptime_s(), 14 * 24 * 3600, "uptime after two weeks")


def test_a_deadline_set_just_before_the_wrap_falls_due_after_it():
    b, clock = board_at(_PERIOD - 100)
    due = b.ticks_add(b.ticks_ms(), 1000)
    clock.advance(500)
    check_eq(b.ticks_diff(b.ticks_ms(), due) >= 0, False, "not due yet after 500 ms")
    clock.advance(600)
    check_eq(b.ticks_diff(b.ticks_ms(), due) >= 0, True, "due after 1100 ms")


run(globals())
