# firmware/uplink.py when the heap cannot take a message: a MemoryError in a handler is counted and
# survived; the same failure three messages in a row (a fragmented heap failing every ack, so the
# queue would never drain while the loop and the watchdog carry on) restarts the device, whose
# records wait on flash. A message handled in between starts the count again.
import wire
from fakeuplink import uplink
from runner import check_eq, run


class Reset(Exception):
    pass


def starved(up, b):
    """Make every ack fail for want of memory, and the board's reset observable."""
    def no_memory(msg):
        raise MemoryError("memory allocation failed, allocating 640 bytes")

    up._on_ack = no_memory
    b.resets = 0

    def reset():
        b.resets += 1
        raise Reset()

    b.reset = reset


def test_three_acks_in_a_row_without_memory_restart_the_device():
    up, b = uplink()
    starved(up, b)
    for _ in range(2):
        up._on_message(wire.topic_ack("k1"), b"{}", False)
    check_eq((b.resets, up.errors, up.last_error), (0, 2, "MemoryError"), "survived twice")
    try:
        up._on_message(wire.topic_ack("k1"), b"{}", False)
    except Reset:
        pass
    check_eq(b.resets, 1, "the third in a row restarts")


def test_a_message_handled_in_between_starts_the_count_again():
    up, b = uplink()
    starved(up, b)
    ack = wire.topic_ack("k1")
    for _ in range(5):
        up._on_message(ack, b"{}", False)
        up._on_message(ack, b"{}", False)
        up._on_message(wire.topic_command("k1"), wire.encode_command("identify", "c"), False)  # handled
    check_eq((b.resets, up.errors), (0, 10), "never three in a row")


run(globals())
