# tiesense firmware: configuration.
#
# DEFAULTS below hold every setting a device knows; a site overrides them in
# site.json in the device root (written by `tiesense firmware stage` / the
# launcher, or by a technician with mpremote). Unknown keys in site.json are
# reported on the console and ignored, so a typo never stops a kiosk from
# booting; a value of the wrong type is refused the same way.
#
# Keys:
#   device          device id (wire.valid_device_id), also the MQTT client id
#   role            "kiosk" (kiosk.py) or "handheld" (handheld.py: an interview
#                   unit; its defaults differ, see ROLE_DEFAULTS)
#   broker_host, broker_port, keepalive_s      the MQTT broker
#   mqtt_user, mqtt_password                   per-device credentials, or null
#   broker_tls      true: TLS to the broker, its certificate checked against broker_ca
#   broker_ca       file (DER) of the CA that signed the broker's certificate
#   site            where the device stands (set by `tiesense devices provision`)
#   device_key      the device's secret (hex): it signs records and checks the
#                   host's acks and commands (wire contract 2); set by
#                   `tiesense devices provision`. null: nothing signed or checked
#                   (a bench or demo device on an open broker)
#   site_key        the site's secret (hex) that forms from the host are checked
#                   against; set by `tiesense devices provision`, or null
#   wifi_ssid, wifi_password, wifi_country     Pico W only
#   ack_timeout_ms  resend records the host has not acked after this long
#   batch_bytes     largest records message, and so largest record (<= wire.DEVICE_BATCH_BYTES_MAX)
#   status_s        republish the retained status this often
#   backoff_max_s   longest wait between reconnect attempts
#   language        label language of the survey ("en", "ko")
#   form            form id; the form is read from forms/<form>.json
#   form_max_bytes  largest form message taken (a form over the MQTT receive
#                   buffer is spooled to flash first); a bigger one is refused
#                   and counted, as is one the free flash cannot hold
#   survey_idle_s   an unfinished survey is abandoned after this long idle (0: never)
#   draft_policy    a survey cut short by a power cut or reset (its draft,
#                   written after every answer): "discard" (default: on a kiosk
#                   the visitor has gone; counted as abandoned) or "resume"
#                   (a handheld: the interviewer carries on where it stopped)
#   thanks_ms       how long the thanks screen stays after a survey
#   presence_interval_s  the kiosk logs presence and response counts per
#                   interval of this many seconds (a tp_presence record)
#   data_dir        where the record log lives
#   watchdog_ms     the hardware watchdog's timeout (the RP2040 allows at most 8388)
#   storage_reserve_bytes  flash the log leaves free for acks, deletions and
#                   forms (null: 4 filesystem blocks, 16 KiB on the Pico W);
#                   below it the kiosk refuses new surveys ("Storage full")
#   storage_max_bytes      most bytes the log's segments may hold (null: all
#                   the filesystem has, less the reserve)
#   offload         true: answer `tiesense pull` on a serial line (offload.py), the
#                   handheld's way home without Wi-Fi; records leave the log only
#                   on the host's verified ack, as over MQTT
#   serial_port     the offload's line: null = USB CDC on the Pico W (stdin/stdout,
#                   shared with the console); under the unix port a tty path
#                   (e.g. one end of a socat pty pair)
#   sim_script      (unix port) JSON file of scripted key/presence events
#   sim_auto_s      (unix port) demo mode: one random survey every N seconds
#   sim_seed        (unix port) seed for sim_auto_s answers
#   sim_exit_idle   (unix port) exit once the script is done and the log is empty
#   sim_mem_info    (benches) print micropython.mem_info() with every status
#   sim_clock       (unix port) "ntp": the computer's clock; "rtc-reset": a Pico W's,
#                   at 2021-01-01 each boot with no NTP (see board/sim.py)
#   sim_keys_port   (unix port) UDP port on 127.0.0.1 for live key events (0: none)
#   sim_screen      (unix port) screen size "COLSxROWS" of the simulated board
import json

VERSION = "0.2.0"

DEFAULTS = {
    "device": "kiosk-01",
    "role": "kiosk",
    "broker_host": "127.0.0.1",
    "broker_port": 1883,
    "keepalive_s": 60,
    "mqtt_user": None,
    "mqtt_password": None,
    "broker_tls": False,
    "broker_ca": "ca.der",
    "site": "",
    "device_key": None,
    "site_key": None,
    "wifi_ssid": "",
    "wifi_password": "",
    "wifi_country": "KR",
    "ack_timeout_ms": 10000,
    "batch_bytes": 1024,
    "status_s": 300,
    "backoff_max_s": 60,
    "language": "en",
    "form": "tp_visit",
    "form_max_bytes": 65536,
    "survey_idle_s": 60,
    "draft_policy": "discard",
    "thanks_ms": 1500,
    "presence_interval_s": 300,
    "data_dir": "data",
    "watchdog_ms": 8000,
    "storage_reserve_bytes": None,
    "storage_max_bytes": None,
    "offload": False,
    "serial_port": None,
    "sim_script": None,
    "sim_auto_s": None,
    "sim_seed": 1,
    "sim_exit_idle": False,
    "sim_clock": "ntp",
    "sim_mem_info": False,
    "sim_keys_port": 0,
    "sim_screen": "21x8",
}

# Keys whose value may be null or another type than the default's.
_LOOSE = ("mqtt_user", "mqtt_password", "device_key", "site_key", "sim_script", "sim_auto_s", "serial_port")
# Keys that are null or a whole number of bytes.
_BYTES = ("storage_reserve_bytes", "storage_max_bytes")


# What a role changes in DEFAULTS (site.json still overrides it): a handheld runs the
# interview, never gives an interview up for being idle (the interviewer may be talking),
# resumes a survey a power cut interrupted, and answers `tiesense pull` over USB.
ROLE_DEFAULTS = {
    # an interview record with 10 partners is ~1.7 KB: larger than a kiosk's 1 KB messages
    "handheld": {"form": "fi_interview", "survey_idle_s": 0, "draft_policy": "resume", "offload": True,
                 "batch_bytes": 4096},
}


def load(path="site.json", defaults=None):
    """DEFAULTS (with the role's ROLE_DEFAULTS) updated with the site file (missing file: defaults only)."""
    cfg = dict(defaults or DEFAULTS)
    try:
        with open(path) as f:
            site = json.load(f)
    except OSError:
        return cfg
    except ValueError as e:
        print("config: " + path + " is not valid JSON (" + str(e) + "); using defaults")
        return cfg
    if isinstance(site, dict):
        cfg.update(ROLE_DEFAULTS.get(site.get("role"), {}))
    for k in site:
        v = site[k]
        if k not in cfg:
            print("config: unknown key '" + k + "' in " + path + " ignored")
        elif k in _BYTES and not (v is None or (type(v) is int and v >= 0)):
            print("config: '" + k + "' must be null or a number of bytes; default kept")
        elif k in _LOOSE or cfg[k] is None or type(v) is type(cfg[k]):
            cfg[k] = v
        else:
            print("config: '" + k + "' must be " + type(cfg[k]).__name__ + "; default kept")
    import wire
    if cfg["batch_bytes"] > wire.DEVICE_BATCH_BYTES_MAX:
        cfg["batch_bytes"] = wire.DEVICE_BATCH_BYTES_MAX
    if not wire.valid_device_id(cfg["device"]):
        print("config: device id '" + str(cfg["device"]) + "' is invalid")
    return cfg
