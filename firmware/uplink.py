# tiesense firmware: the uplink, owner of the MQTT session.
#
# service() is one cooperative step, called from the app loop (no threads):
#   - link down: when the backoff has passed, bring up the network, connect
#     (clean session; last will = retained offline status), publish the
#     retained online status, subscribe to this device's acks and commands
#     and to every form. A failed attempt doubles the wait (1 s ..
#     backoff_max_s, with jitter). The connect runs as non-blocking steps
#     (Wi-Fi association up to 15 s, TCP and CONNACK up to 5 s), so the
#     screen and keys stay live meanwhile; only a TLS handshake blocks.
#   - every step feeds the hardware watchdog (main.py starts it).
#   - link up: handle waiting packets; publish unsent records from the log
#     in batches under batch_bytes (wire.encode_batch_from_encoded splices
#     the stored bytes, no re-encoding), QoS 1, at most _WINDOW batches
#     awaiting the host's ack; a batch not acked within ack_timeout_ms is
#     forgotten, so its records go out again with the same seq and instance
#     id (the host deduplicates). Republish the status every status_s.
#   - the host's ack (wire.decode_ack) is the only thing that removes a
#     record (log.ack checks seq and instance id); a PUBACK proves nothing.
#     The log deletes a segment file once all its records are acked; when
#     the queue is empty (or 32 acked records wait) compact() deletes the
#     newest segment too.
#     apply_ack() (module level) is that step alone, shared with the USB
#     serial offload (offload.py), so an ack counts the same whatever carried it.
#   - commands: "sync" resends everything pending now; "status" publishes
#     the status; "identify" blinks the LED; "reboot" resets the board;
#     "time" sets the clock from the host's (when NTP has not). A repeated
#     command id is ignored; more than _CMD_BURST commands in _CMD_WINDOW_MS
#     are refused.
#   - forms: a newer version of this device's form on the forms topic is
#     written to forms/<id>.json (temp file + rename) and offered through
#     take_form(); the app switches to it only between surveys. A form larger
#     than the client's receive buffer (the handheld's interview is 26 KB) is
#     spooled by the client to forms/<id>.json.part, a piece at a time, if it
#     fits form_max_bytes and the flash has room for it beside the log's
#     reserve (else refused and counted); once whole it is checked exactly as
#     a small one (wire.decode_form reads the file once for the signature,
#     then decodes it from the file: the message and the form it decodes to
#     are never on the heap together), and the verified file renamed to
#     forms/<id>.json (it keeps its "v" and "sig"). A .part file
#     is never taken as a form: a refused one is removed at once, one a power
#     cut left at the next boot.
#   - the clock: NTP is tried at connect and then, while unsynced and
#     online, again with backoff (_NTP_RETRY_MS doubling to an hour); the
#     status says how the clock was set, so the host lends its own time if
#     NTP never answers.
# Trust (wire contract 2): with a device_key in site.json, records are signed
# (by the log's encoder, see main.py) and an ack, command or form is acted on
# only if its signature verifies (acks and commands with the device key,
# commands also carrying this connection's nonce; forms with the site key).
# Whatever is refused is counted ("refused" in the status); an exception in
# a handler is counted ("errors", "last_error") and survived.
# Any OSError from the link (ConnectionLost, MQTTError) drops the session
# and schedules a reconnect; records stay in the log throughout.
import gc
import os

from micropython import const

import config
import mqtt
import wire

_WINDOW = const(2)
_COMPACT_AT = const(32)
_BACKOFF_MIN_MS = const(1000)
_CONNECT_TIMEOUT_MS = const(5000)
_IDENTIFY_MS = const(3000)
_BLINK_MS = const(150)
_CMD_BURST = const(4)
_CMD_WINDOW_MS = const(10000)
_NTP_RETRY_MS = const(30000)
_NETWORK_TIMEOUT_MS = const(15000)
_OOM_RESTART = const(3)  # messages in a row failing with MemoryError before the device restarts
_PH_NETWORK = const(1)
_PH_MQTT = const(2)
_NTP_RETRY_MAX_MS = const(3600000)


def apply_ack(log, msg, device, key):
    """Apply the host's ack message ``msg`` (bytes) to ``log``, whatever carried it (MQTT, USB serial).

    The ack must verify (wire.decode_ack: with ``key``, only a version 2 ack
    signed for ``device``); a refused one raises wire.WireError and deletes
    nothing. Each entry removes its record only if seq AND instance id match
    (log.ack). Returns (every seq the ack names, how many records it removed).
    """
    seqs = []
    n = 0
    for seq, iid, status in wire.decode_ack(msg, device, key):
        seqs.append(seq)
        if log.ack(seq, iid):
            n += 1
    return seqs, n


def compact_if_due(log):
    """Compact acked lines away once _COMPACT_AT pile up or the queue is empty.

    Only for a log that keeps acked lines until compact() (acked_in_file); a
    log that frees space by itself (e.g. a ring of segments) has nothing to do.
    """
    due = getattr(log, "acked_in_file", None)
    if due is None:
        return
    k = due()
    if k >= _COMPACT_AT or (k and log.depth() == 0):
        gc.collect()  # compaction rebuilds the log's index arrays: they want contiguous blocks
        try:
            log.compact()
        except MemoryError:  # seen with a 500-record backlog on a 190K heap; it leaves the log's files closed
            gc.collect()
            log.compact()  # from the start again (it is idempotent), which reopens them


class Uplink:
    def __init__(self, cfg, board, log, form_id=None, form_version=None, client=None):
        self.cfg = cfg
        self.board = board
        self.log = log
        self.device = cfg["device"]
        self.role = cfg["role"]
        self.key = wire.key_bytes(cfg.get("device_key"))
        self.site = cfg.get("site") or ""
        self.site_key = wire.key_bytes(cfg.get("site_key"))
        self.nonce = ""  # new at every connect; the host's commands must carry it
        self.refused = 0  # acks, commands and forms refused since boot
        self.errors = 0  # exceptions survived in handlers since boot
        self._oom = 0  # messages in a row that could not be handled for want of memory
        self.last_error = None
        self._cmd_times = []  # ticks of the recent commands (rate limit)
        self._ntp_next = board.ticks_ms()
        self._ntp_wait = _NTP_RETRY_MS
        self.form_id = form_id or cfg["form"]
        self.form_version = form_version
        # Counters the app reports in every status message (wire.STATUS_FIELDS),
        # e.g. the kiosk's approaches and abandoned surveys.
        self.counters = {}
        self.batch_bytes = min(cfg["batch_bytes"], wire.DEVICE_BATCH_BYTES_MAX)
        self.ack_timeout_ms = cfg["ack_timeout_ms"]
        self.client = client or mqtt.MQTTClient(
            self.device, keepalive=cfg["keepalive_s"], user=cfg.get("mqtt_user"),
            password=cfg.get("mqtt_password"), tx_size=self.batch_bytes + 96, rx_size=4096)
        self.client.set_callback(self._on_message)
        self.form_max_bytes = cfg.get("form_max_bytes", wire.MAX_PAYLOAD)
        self._form_path = "forms/" + self.form_id + ".json"
        self._remove(self._form_path + ".part")  # a form a power cut interrupted is never taken
        self.client.set_spool(self._open_spool, self._on_spooled)
        self.client.set_last_will(wire.topic_status(self.device), wire.encode_status(False, version=wire.VERSION),
                                  retain=True, qos=wire.QOS_STATUS)
        self._t_records = wire.topic_records(self.device)
        self._t_ack = wire.topic_ack(self.device)
        self._t_cmd = wire.topic_command(self.device)
        self._t_status = wire.topic_status(self.device)
        self._overhead = len(wire.encode_batch_from_encoded(self.device, (), wire.VERSION))
        self.up = False
        self._phase = None  # connecting: _PH_NETWORK, then _PH_MQTT, each until _phase_until
        self._phase_until = 0
        self._next_try = board.ticks_ms()
        self._backoff = _BACKOFF_MIN_MS
        self._batches = []  # [sent_ticks, [seqs]] awaiting the host's ack
        self._sent = set()  # seqs in those batches
        self._dirty = True  # the log may hold records not yet sent
        self._last_status = 0
        self._cmd_ids = []
        self._blink_until = None
        self.new_form = None
        self.sent = 0  # records published (including resends)
        self.resent = 0  # records published again after an ack timeout
        self.acked = 0  # records the host acked
        self.connects = 0

    # -------------------------------------------------------- the step

    def service(self):
        """One cooperative step; never raises on link trouble."""
        b = self.board
        b.feed()  # the watchdog: every pass of the app loop comes through here
        now = b.ticks_ms()
        if self._blink_until is not None:  # "identify": blink while the kiosk goes on working
            if b.ticks_diff(now, self._blink_until) >= 0:
                b.led(False)
                self._blink_until = None
            else:
                b.led(b.ticks_diff(self._blink_until, now) // _BLINK_MS % 2 == 1)
        if not self.up:
            if self._phase is not None:
                self._connect_step(now)
            elif b.ticks_diff(now, self._next_try) >= 0:
                self._phase = _PH_NETWORK
                self._phase_until = b.ticks_add(now, _NETWORK_TIMEOUT_MS)
                self._connect_step(now)
            return
        try:
            self.client.check_msg()
            self._expire(now)
            self._send()
            if b.clock == wire.CLOCK_UNSYNCED and b.ticks_diff(now, self._ntp_next) >= 0:
                self._try_ntp()
            if b.ticks_diff(now, self._last_status) >= self.cfg["status_s"] * 1000:
                self.publish_status()
        except OSError as e:
            self._lost(e)

    def _try_ntp(self):
        b = self.board
        if b.sync_ntp():
            print("UPLINK clock set by NTP")
            if self.up:
                self.publish_status()
            return
        self._ntp_next = b.ticks_add(b.ticks_ms(), self._ntp_wait)
        self._ntp_wait = min(self._ntp_wait * 2, _NTP_RETRY_MAX_MS)

    def wake(self):
        """A record was appended: send it at the next step."""
        self._dirty = True

    # ---------------------------------------------------------- session

    def _connect_step(self, now):
        # The connect runs as steps of service(), none of them waiting: the Wi-Fi association
        # (board.connect_network() answers at once), the TCP connect and the CONNACK (the
        # client's start_connect/connect_step). Only TLS blocks, in its handshake (up to
        # _CONNECT_TIMEOUT_MS; the watchdog is fed before it). Each phase has a deadline.
        b = self.board
        c = self.client
        try:
            if self._phase == _PH_NETWORK:
                if not b.connect_network():
                    if b.ticks_diff(now, self._phase_until) >= 0:
                        raise OSError("network down")
                    return
                host, port = self.cfg["broker_host"], self.cfg["broker_port"]
                self._phase_until = b.ticks_add(now, _CONNECT_TIMEOUT_MS)
                if self.cfg.get("broker_tls") or not hasattr(c, "start_connect"):
                    sock = None
                    if self.cfg.get("broker_tls"):
                        with open(self.cfg["broker_ca"], "rb") as f:
                            ca = f.read()
                        b.feed()
                        sock = mqtt.open_tls(host, port, ca, _CONNECT_TIMEOUT_MS)
                    c.connect(host, port, sock=sock, timeout_ms=_CONNECT_TIMEOUT_MS)
                    self._connected()
                    return
                c.start_connect(host, port, timeout_ms=_CONNECT_TIMEOUT_MS)
                self._phase = _PH_MQTT
                return
            if c.connect_step() is None:
                if b.ticks_diff(now, self._phase_until) >= 0:
                    raise OSError("no answer from the broker within %d ms" % _CONNECT_TIMEOUT_MS)
                return
            self._connected()
        except OSError as e:
            self._lost(e)

    def _connected(self):
        b = self.board
        c = self.client
        self._phase = None
        self.up = True
        self.connects += 1
        self.nonce = "".join(["%02x" % x for x in b.urandom(4)])
        if b.clock == wire.CLOCK_UNSYNCED:
            self._try_ntp()
        self._batches = []
        self._sent = set()
        self._dirty = True
        self.publish_status()
        for t in (self._t_ack, self._t_cmd, wire.SUB_FORMS):
            c.subscribe(t, 1)
        self._backoff = _BACKOFF_MIN_MS
        print("UPLINK connected to %s:%d queue=%d" % (self.cfg["broker_host"], self.cfg["broker_port"], self.log.depth()))

    def _lost(self, e):
        was_up = self.up
        self.up = False
        self._phase = None
        self.client.close()
        b = self.board
        jitter = (b.urandom(1)[0] * self._backoff) >> 10  # up to +25%
        self._next_try = b.ticks_add(b.ticks_ms(), self._backoff + jitter)
        print("UPLINK %s (%s); retry in %d ms" % ("lost" if was_up else "connect failed", e, self._backoff + jitter))
        self._backoff = min(self._backoff * 2, self.cfg["backoff_max_s"] * 1000)

    def stop(self):
        """Orderly shutdown: retained offline status, then DISCONNECT."""
        if self.up:
            try:
                self.client.publish(self._t_status, wire.encode_status(False, version=wire.VERSION), retain=True,
                                    qos=wire.QOS_STATUS)
            except OSError:
                pass
            self.client.disconnect()
            self.up = False

    def publish_status(self):
        gc.collect()
        if self.cfg.get("sim_mem_info"):  # benches: the heap's free total and largest free block, on the console
            import micropython

            micropython.mem_info()
        b = self.board
        c = self.counters
        msg = wire.encode_status(True, fw=config.VERSION, role=self.role, queue=self.log.depth(),
                                 heap_free=gc.mem_free(), battery_mv=b.battery_mv(),
                                 uptime_s=b.uptime_s(), time=wire.iso_utc(b.time()),
                                 approaches=c.get("approaches"), abandoned=c.get("abandoned"),
                                 version=wire.VERSION, boot=b.boot, clock=b.clock, nonce=self.nonce,
                                 flash_free=c.get("flash_free"), storage_full=c.get("storage_full"),
                                 refused=self.refused, errors=self.errors, last_error=self.last_error)
        self.client.publish(self._t_status, msg, retain=True, qos=wire.QOS_STATUS)
        self._last_status = b.ticks_ms()

    # ---------------------------------------------------------- records

    def _expire(self, now):
        keep = []
        for bt in self._batches:
            if self.board.ticks_diff(now, bt[0]) >= self.ack_timeout_ms:
                for s in bt[1]:
                    self._sent.discard(s)
                self.resent += len(bt[1])
                self._dirty = True
            else:
                keep.append(bt)
        self._batches = keep

    def _send(self):
        if not self._dirty or len(self._batches) >= _WINDOW:
            return
        parts = []
        seqs = []
        size = self._overhead
        full = False
        for seq, payload in self.log.pending(skip=self._sent):
            if parts and (size + len(payload) + 1 > self.batch_bytes or len(parts) >= wire.MAX_BATCH_RECORDS):
                self._publish_batch(parts, seqs)
                parts = []
                seqs = []
                size = self._overhead
                if len(self._batches) >= _WINDOW:
                    full = True
                    break
            parts.append(payload)
            seqs.append(seq)
            size += len(payload) + 1
        if parts:
            self._publish_batch(parts, seqs)
        self._dirty = full

    def _publish_batch(self, parts, seqs):
        msg = wire.encode_batch_from_encoded(self.device, parts, wire.VERSION)
        self.client.publish(self._t_records, msg, qos=wire.QOS_RECORDS)
        self._batches.append([self.board.ticks_ms(), seqs])
        for s in seqs:
            self._sent.add(s)
        self.sent += len(seqs)
        print("UPLINK sent seqs=%s bytes=%d" % (",".join([str(s) for s in seqs]), len(msg)))

    # --------------------------------------------------------- incoming

    def _on_message(self, topic, msg, retained):
        self._handle(topic, self._dispatch, msg)

    def _on_spooled(self, topic, path, retained):
        """The client's hook for a delivery it spooled to ``path`` (whole): checked as any form, then
        the file is renamed into place or removed."""
        self._handle(topic, self._on_form_file, path)
        self._remove(path)

    def _dispatch(self, topic, msg):
        if topic == self._t_ack:
            self._on_ack(msg)
        elif topic == self._t_cmd:
            self._on_command(msg)
        elif self._is_my_form(topic):  # another form: not read at all
            self._on_form(msg)

    def _handle(self, topic, handler, arg):
        # handler(topic, arg), never raising: what it refuses or fails on is counted and reported
        try:
            handler(topic, arg)
            self._oom = 0
        except wire.WireError as e:  # unsigned, forged, stale or malformed: refused, counted, reported
            self._oom = 0
            self.refused += 1
            print("UPLINK refused message on %s: %s" % (topic, e))
        except MemoryError:
            # A fragmented heap can fail the same allocation at every ack, and then the queue never drains
            # while the loop (and the watchdog) carry on. Everything waiting is on flash: restart clean.
            self.errors += 1
            self.last_error = "MemoryError"
            self._oom += 1
            gc.collect()
            print("UPLINK out of memory handling a message on %s (%d in a row)" % (topic, self._oom))
            if self._oom >= _OOM_RESTART:
                print("UPLINK restarting: %d messages in a row failed for want of memory; "
                      "the queue is safe on flash" % self._oom)
                self.board.reset()
        except Exception as e:  # whatever arrives, the kiosk keeps running: say so and drop it
            self.errors += 1
            self.last_error = (type(e).__name__ + ": " + str(e))[:64]
            print("UPLINK ignored message on %s: %s" % (topic, e))

    def _on_ack(self, msg):
        seqs, n = apply_ack(self.log, msg, self.device, self.key)
        for seq in seqs:
            if seq in self._sent:
                self._sent.discard(seq)
                for bt in self._batches:
                    if seq in bt[1]:
                        bt[1].remove(seq)
                self._batches = [bt for bt in self._batches if bt[1]]
        self.acked += n
        if n:
            print("UPLINK acked %d queue=%d" % (n, self.log.depth()))
            self._dirty = True
        compact_if_due(self.log)

    def _on_command(self, msg):
        b = self.board
        now = b.ticks_ms()
        self._cmd_times = [t for t in self._cmd_times if b.ticks_diff(now, t) < _CMD_WINDOW_MS]
        if len(self._cmd_times) >= _CMD_BURST:
            raise wire.WireError("command flood: more than %d commands in %d s" % (_CMD_BURST, _CMD_WINDOW_MS // 1000))
        self._cmd_times.append(now)
        cmd = wire.decode_command(msg, self.device, self.key, self.nonce)
        cid = cmd.get("id")
        if cid is not None:
            if cid in self._cmd_ids:
                return
            self._cmd_ids.append(cid)
            if len(self._cmd_ids) > 8:
                self._cmd_ids.pop(0)
        name = cmd["cmd"]
        print("UPLINK command " + name)
        if name == "sync":
            self._batches = []
            self._sent = set()
            self._dirty = True
        elif name == "status":
            self.publish_status()
        elif name == "identify":  # blink for a few seconds from service(), never sleeping here
            self._blink_until = self.board.ticks_add(self.board.ticks_ms(), _IDENTIFY_MS)
        elif name == "time":
            if b.clock != wire.CLOCK_NTP:  # NTP, when it answered, is the better clock
                b.set_time(cmd["args"]["t"], wire.CLOCK_HOST)
                print("UPLINK clock set from the host's")
                self.publish_status()
        elif name == "reboot":
            self.stop()
            self.board.reset()

    def _is_my_form(self, topic):
        p = wire.parse_topic(topic)
        return p is not None and p[1] == "form" and p[0] == self.form_id

    def _checked_form(self, msg):
        """The form in ``msg`` if it is this device's, newer, signed (with a site key) and runnable here;
        None if it is not newer; wire.WireError if forged or malformed."""
        form = wire.decode_form(msg, self.site, self.site_key)
        if form["id"] != self.form_id or not wire.newer_version(form["version"], self.form_version):
            return None
        from survey import unsupported

        why = unsupported(form, getattr(self.board, "keyboard", False))
        if why:  # a form this firmware cannot run must not replace the one it can (or every survey would fail)
            print("UPLINK refused form %s version %s: %s" % (form["id"], form["version"], why))
            return None
        return form

    def _adopted(self, form):
        import texts

        self.form_version = form["version"]
        self.new_form = texts.split(form, self._form_path)  # held until taken: its texts on flash
        print("UPLINK stored form %s version %s" % (form["id"], form["version"]))

    def _on_form(self, msg):
        form = self._checked_form(msg)
        if form is None:
            return
        del form["v"]
        data = wire.encode(form)
        self._mkdir_forms()
        with open(self._form_path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(self._form_path + ".tmp", self._form_path)
        self._adopted(form)

    # ------------------------------------------------ forms over the receive buffer

    def _open_spool(self, topic, size):
        """The client's spool hook: the file a delivery too big for the receive buffer streams into
        (this device's form only), or None to drop it. Never raises (it runs mid-packet)."""
        if not self._is_my_form(topic):
            return None  # another form: not read at all, as small ones are not
        try:
            why = None
            if size > self.form_max_bytes:
                why = "%d bytes, more than form_max_bytes (%d)" % (size, self.form_max_bytes)
            else:
                self._mkdir_forms()
                st = os.statvfs("forms")
                free = st[1] * min(st[4], st[2])  # littlefs can count a block twice on a full flash
                need = size + (getattr(self.log, "reserve", 0) or 0)
                if free < need:
                    why = "%d bytes, and the flash has %d free: it needs %d with the log's reserve" % (
                        size, free, need)
            if why is None:
                return self._form_path + ".part"
        except Exception as e:  # noqa: BLE001 - a broken flash refuses the form, never the link
            why = "cannot spool it: %s" % e
        self.refused += 1
        print("UPLINK refused message on %s: %s" % (topic, why))
        return None

    def _on_form_file(self, topic, path):
        gc.collect()
        with open(path, "rb") as f:  # read for the signature, then decoded from the file
            form = self._checked_form(f)
        if form is not None:
            form.pop("v", None)
            os.rename(path, self._form_path)  # the verified bytes themselves: nothing re-encoded
            self._adopted(form)

    @staticmethod
    def _mkdir_forms():
        try:
            os.mkdir("forms")
        except OSError:
            pass

    @staticmethod
    def _remove(path):
        try:
            os.remove(path)
        except OSError:
            pass

    def take_form(self):
        """A newer form received since the last call, or None."""
        f = self.new_form
        self.new_form = None
        return f
