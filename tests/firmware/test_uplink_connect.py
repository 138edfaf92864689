# The uplink connects in non-blocking steps: Wi-Fi association, TCP, CONNACK, each with a
# deadline, none of them sleeping or waiting inside service(); every step feeds the watchdog.
import os

import config
from fakeclock import FakeClock
from log import Log
from runner import check_eq, run
from uplink import Uplink


class Board(FakeClock):
    def __init__(self, network_after):
        FakeClock.__init__(self)
        self.network_after = network_after  # connect_network() calls before the network is up
        self.network_calls = 0
        self.sleeps = 0
        self.feeds = 0
        self.boot = 1
        self.clock = 1

    def connect_network(self):
        self.network_calls += 1
        return self.network_calls > self.network_after

    def feed(self):
        self.feeds += 1

    def sleep_ms(self, ms):
        self.sleeps += 1

    def led(self, on):
        pass

    def urandom(self, n):
        return bytes(n)

    def uptime_s(self):
        return 1

    def time(self):
        return 1795510200

    def battery_mv(self):
        return None

    def sync_ntp(self):
        return False


class Client:
    """Answers CONNACK after ``steps`` connect_step() calls (None: never)."""

    def __init__(self, steps):
        self.steps = steps
        self.started = 0
        self.calls = 0
        self.published = []
        self.subscribed = []
        self.closed = 0

    def set_callback(self, cb):
        pass

    def set_last_will(self, *a, **k):
        pass

    def set_spool(self, open_spool, spooled):
        pass

    def start_connect(self, host, port=1883, clean_session=True, timeout_ms=5000):
        self.started += 1
        self.calls = 0

    def connect_step(self):
        self.calls += 1
        if self.steps is None or self.calls < self.steps:
            return None
        return False

    def connect(self, *a, **k):
        raise AssertionError("the blocking connect is for TLS only")

    def publish(self, topic, msg, retain=False, qos=0):
        self.published.append(topic)

    def subscribe(self, topic, qos=0):
        self.subscribed.append(topic)

    def check_msg(self):
        pass

    def close(self):
        self.closed += 1


def uplink(board, client):
    d = "/tmp/tiesense-connect-" + "".join(["%02x" % x for x in os.urandom(4)])
    os.mkdir(d)
    return Uplink(dict(config.DEFAULTS, device="k1"), board, Log(d), client=client)


def test_connect_takes_steps_and_never_waits():
    b = Board(network_after=3)
    c = Client(steps=4)
    up = uplink(b, c)
    for i in range(20):
        up.service()
        b.advance(10)
        if up.up:
            break
    assert up.up, "connected"
    check_eq(b.network_calls, 4, "Wi-Fi polled until it came up")
    check_eq(c.started, 1)
    check_eq(c.calls, 4, "CONNACK polled until it came")
    check_eq(b.sleeps, 0, "service() never sleeps")
    assert b.feeds >= i + 1, "every step feeds the watchdog"
    check_eq(len(c.subscribed), 3)


def test_each_phase_gives_up_at_its_deadline_and_backs_off():
    b = Board(network_after=10 ** 9)  # Wi-Fi never comes
    c = Client(steps=None)
    up = uplink(b, c)
    up.service()
    b.advance(14000)
    up.service()
    check_eq(up._phase is not None, True, "still associating before 15 s")
    b.advance(1001)
    up.service()
    check_eq(up._phase, None, "given up after 15 s")
    check_eq(c.started, 0)
    # the network is back; the broker never answers: given up after 5 s, then the backoff
    b.network_after = 0
    b.advance(up.cfg["backoff_max_s"] * 1000 + 1)
    up.service()
    check_eq(c.started, 1)
    b.advance(4000)
    up.service()
    assert not up.up and up._phase is not None, "waiting for CONNACK"
    b.advance(1001)
    up.service()
    assert not up.up and up._phase is None, "no CONNACK in 5 s: lost, backing off"
    check_eq(b.sleeps, 0)


run(globals())
