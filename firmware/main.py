# tiesense firmware: boot.
#
# Load the configuration (config.py defaults + site.json), build the board
# (board/picow.py on a Pico W kiosk, board/handheld.py on a handheld,
# board/sim.py on the unix port), open the flash log, load the form from
# forms/<form>.json, start the uplink (and, with "offload" set, the USB
# serial offload) and run the app for the configured role. On the Pico an
# unexpected error resets the board after a pause (a kiosk must come back by
# itself); under the unix port it ends the process with the traceback.
import gc
import sys

import config


def load_form(cfg):
    """The device's form, its texts on flash (texts.py)."""
    import texts

    return texts.load("forms/" + cfg["form"] + ".json", cfg["form"])


def count_boot(data_dir):
    """This boot's number: one more than the last, kept in <data_dir>/boot (temp file + rename)."""
    import os

    try:
        os.mkdir(data_dir)
    except OSError:
        pass
    path = data_dir + "/boot"
    try:
        with open(path) as f:
            n = int(f.read().strip() or "0") + 1
    except (OSError, ValueError):
        n = 1
    with open(path + ".tmp", "w") as f:
        f.write(str(n))
    os.rename(path + ".tmp", path)
    return n


def main():
    cfg = config.load()
    if sys.platform == "rp2" and cfg["role"] == "handheld":
        from board.handheld import Board
    elif sys.platform == "rp2":
        from board.picow import Board
    else:
        from board.sim import Board
    board = Board(cfg)
    board.boot = count_boot(cfg["data_dir"])
    gc.collect()
    import wire
    from log import Log

    from signer import Signer

    key = wire.key_bytes(cfg["device_key"])
    max_record = cfg["batch_bytes"] - 48  # one record always fits one message
    log = Log(cfg["data_dir"], max_record=max_record, encode=Signer(cfg["device"], key, max_record).sign,
              reserve=cfg["storage_reserve_bytes"], capacity=cfg["storage_max_bytes"])
    form = load_form(cfg)
    gc.collect()
    from uplink import Uplink

    uplink = Uplink(cfg, board, log, form_id=form["id"], form_version=form["version"])
    offload = None
    if cfg["offload"]:
        from offload import Offload

        try:
            offload = Offload(cfg, board, log, uplink)
        except ValueError as e:  # e.g. no serial_port under the unix port: the app runs without it
            print("OFFLOAD off: %s" % e)
    gc.collect()
    print("BOOT tiesense fw %s device %s role %s board %s boot %d signed %s queue %d flash_free %d heap_free %d" % (
        config.VERSION, cfg["device"], cfg["role"], board.name, board.boot, "yes" if key else "no", log.depth(),
        log.free_bytes(), gc.mem_free()))
    if cfg["role"] == "kiosk":
        from kiosk import Kiosk

        app = Kiosk(cfg, board, log, uplink, form, offload=offload)
    elif cfg["role"] == "handheld":
        from handheld import Handheld

        app = Handheld(cfg, board, log, uplink, form, offload=offload)
    else:
        raise ValueError("role '" + cfg["role"] + "' has no app on this firmware")
    # The hardware watchdog (the RP2040's longest, about 8.3 s): every pass of the app loop feeds it
    # (uplink.service), so a hang anywhere resets the kiosk, which then resumes from its flash log.
    board.start_watchdog(cfg["watchdog_ms"])
    try:
        app.run()
    finally:
        gc.collect()
        print("EXIT completed %d abandoned %d approaches %d queue %d heap_free %d longest_unfed_ms %d" % (
            app.completed, app.abandoned, app.approaches, log.depth(), gc.mem_free(), board.max_feed_gap_ms))
        uplink.stop()
        if offload is not None:
            offload.stop()
        log.close()


if sys.platform == "rp2":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - a kiosk restarts itself
        sys.print_exception(e)
        import time
        import machine

        time.sleep(5)
        machine.reset()
else:
    main()
