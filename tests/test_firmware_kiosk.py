"""The kiosk app with the real firmware under micropython (simulated board): what a visitor's keys do."""
from __future__ import annotations

from tiesense.devices import SimDevice, read_log_state, stage


def test_a_key_pressed_on_the_thanks_screen_starts_no_phantom_survey(micropython, tmp_path, survey_keys):
    # one survey, then "ok" while "Thank you!" shows; a phantom survey would start and be abandoned idle
    script = survey_keys(1, 1, 1) + [["key", "ok"], ["wait_ms", 2500], ["exit"]]
    root = stage(tmp_path / "kiosk", "kiosk-01", "mqtt://127.0.0.1:9", script=script, thanks_ms=800,
                 survey_idle_s=1, backoff_max_s=5)
    dev = SimDevice(root, micropython=micropython).start()
    assert dev.wait(30) == 0, dev.read_output()
    out = dev.read_output()
    assert out.count("KIOSK stored seq=") == 1
    assert "survey abandoned" not in out and "survey cancelled" not in out, out[-2000:]
    assert read_log_state(root).pending == [1]


def test_a_full_log_refuses_surveys_and_says_so(micropython, tmp_path, survey_keys):
    # storage_max_bytes 1100: room for one record of the largest size (976 bytes and its
    # line's 22), so after one real survey (~270 bytes) the log is full
    script = survey_keys(1, 1, 1) + [["wait_ms", 300], ["key", "ok"], ["wait_ms", 300], ["key", "down"],
                                     ["wait_ms", 300], ["exit"]]
    root = stage(tmp_path / "kiosk", "kiosk-01", "mqtt://127.0.0.1:9", script=script, thanks_ms=0,
                 survey_idle_s=1, backoff_max_s=5, storage_max_bytes=1100)
    dev = SimDevice(root, micropython=micropython).start()
    assert dev.wait(30) == 0, dev.read_output()
    out = dev.read_output()
    assert "Traceback" not in out, out[-2000:]
    assert out.count("KIOSK stored seq=") == 1
    assert "KIOSK storage full free=" in out
    assert "SCREEN Which facility" in out[:out.index("KIOSK stored seq=1")]
    after = out[out.index("KIOSK stored seq=1"):]
    screen = after[after.index("KIOSK storage full free="):]
    assert "SCREEN Storage full\nSCREEN please tell staff\n" in screen
    assert "KIOSK storage full: survey refused total=2" in out  # both key presses, no survey started
    assert "SCREEN Which facility" not in screen
    assert read_log_state(root).pending == [1]
