# An Uplink with a fake board and client, offline: for tests that drive its message handlers and
# service() directly (tests/firmware/test_uplink_*.py).
import os

import config
from fakeclock import FakeClock
from log import Log
from uplink import Uplink


class FakeBoard(FakeClock):
    def __init__(self):
        FakeClock.__init__(self)
        self.sleeps = []
        self.leds = []

    def sleep_ms(self, ms):
        self.sleeps.append(ms)

    def led(self, on):
        self.leds.append(bool(on))

    def connect_network(self):
        return False  # offline: service() only schedules reconnects

    def feed(self):
        pass

    def urandom(self, n):
        return bytes(n)


class FakeClient:
    def set_callback(self, cb):
        pass

    def set_last_will(self, *a, **k):
        pass

    def set_spool(self, open_spool, spooled):
        pass

    def close(self):
        pass


def uplink():
    d = "/tmp/tiesense-identify-" + "".join(["%02x" % x for x in os.urandom(4)])
    try:
        os.mkdir(d)
    except OSError:
        pass
    cfg = dict(config.DEFAULTS, device="k1")
    b = FakeBoard()
    return Uplink(cfg, b, Log(d), client=FakeClient()), b
