# The uplink as a kiosk app sees it while the device is offline: counters for the status, nothing sent,
# no new form (tests that drive firmware/kiosk.py without a broker).


class OfflineUplink:
    def __init__(self):
        self.counters = {}
        self.up = False

    def service(self):
        pass

    def wake(self):
        pass

    def take_form(self):
        return None
