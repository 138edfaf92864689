"""Field robustness of the real kiosk (firmware under micropython): a broker that takes the TCP
connection but never answers does not freeze the kiosk. The connect runs in steps, the survey goes on,
and the app loop feeds the watchdog all along (with a blocking connect it would starve for 5 s a try)."""
from __future__ import annotations

import re
import socket
import threading

from tiesense.devices import SimDevice, read_log_state, stage


class BlackHole:
    """A TCP listener that accepts every connection and never says a word (no CONNACK)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for c in self.accepted:
            c.close()


def test_a_silent_broker_never_freezes_the_kiosk(micropython, tmp_path, survey_keys):
    hole = BlackHole()
    try:
        script = [["wait_ms", 500]] + survey_keys(1, 1, 1) + [["wait_ms", 6000]] + survey_keys(2, 2, 2)
        script += [["wait_ms", 500], ["exit"]]
        root = stage(tmp_path / "kiosk", "kiosk-31", f"mqtt://127.0.0.1:{hole.port}", script=script, thanks_ms=0,
                     backoff_max_s=1)
        dev = SimDevice(root, micropython=micropython).start()
        assert dev.wait(60) == 0, dev.read_output()[-3000:]
        out = dev.read_output()
        assert len(hole.accepted) >= 2, "the kiosk never tried the broker: nothing was tested"
        assert "no answer from the broker within 5000 ms" in out
        assert read_log_state(root).pending == [1, 2], "both surveys kept for when the broker answers"
        longest = int(re.search(r"longest_unfed_ms (\d+)", out).group(1))
        assert longest < 2000, f"the app loop went {longest} ms without feeding the watchdog"
        assert "WATCHDOG" not in out and "Traceback" not in out
    finally:
        hole.close()
