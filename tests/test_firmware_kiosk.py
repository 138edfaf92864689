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
