# tiesense firmware: boards. base.py is the interface, picow.py the Raspberry
# Pi Pico W, sim.py the unix-port simulator.
