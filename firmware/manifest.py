# tiesense firmware: the modules a Pico W runs, as a micropython-lib style manifest.
#
# `tiesense firmware build` reads this file (host/tiesense/manifest.py) and
# compiles each module with `mpy-cross -march=armv6m`; `firmware stage` and
# `firmware deploy` add the site's site.json, form and CA. To freeze the
# firmware into a MicroPython build instead, include it from a board manifest
# (ports/rp2/boards/RPI_PICO_W/manifest.py):
#   include("$(PORT_DIR)/boards/manifest.py")
#   include("/path/to/tiesense/firmware/manifest.py")
#
# List exactly what main.py imports, directly or not (tests/test_firmware_build.py
# checks it both ways): a module missing here fails on the device at the first
# import, an extra one wastes flash. board/sim.py, the unix-port simulator, is
# left out on purpose (the simulator adds it); tests/ never goes on a device.
metadata(description="tiesense kiosk and handheld firmware for the Raspberry Pi Pico W", version="0.2.0")

module("main.py")
module("config.py")
module("log.py")
module("signer.py")
module("mqtt.py")
module("uplink.py")
module("survey.py")
module("form.py")
module("answer.py")
module("texts.py")
module("expr.py")
module("kiosk.py")
module("handheld.py")
module("offload.py")
module("display.py")
package("board", files=("__init__.py", "base.py", "picow.py", "handheld.py"))
# The wire contract is one file shared with the host, shipped as is.
module("wire.py", base_path="../host/tiesense")
