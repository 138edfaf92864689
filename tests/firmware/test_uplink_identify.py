# firmware/uplink.py: an "identify" command blinks the LED for a while from
# service(), so a flood of them never blocks the kiosk (it used to sleep 0.9 s
# per command on the loop that also reads keys).
import wire
from fakeuplink import uplink
from runner import check_eq, run


def test_identify_blinks_from_service_and_never_sleeps():
    up, b = uplink()
    for i in range(30):  # a flood of identify commands, each with its own id
        up._on_message(wire.topic_command("k1"), wire.encode_command("identify", "c%d" % i), False)
    check_eq(b.sleeps, [], "sleeps while handling identify")
    for _ in range(40):  # 4 s of the kiosk's loop
        b.t += 100
        up.service()
    check_eq(True in b.leds and False in b.leds, True, "the LED blinked")
    check_eq(b.leds[-1], False, "the LED is off once identify is over")
    check_eq(b.sleeps, [], "sleeps in service")


run(globals())
