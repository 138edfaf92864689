# tiesense firmware: USB serial offload, for a device far from any Wi-Fi.
#
# A laptop runs `tiesense pull --port /dev/ttyACM0`; this module answers it
# on a serial line, one frame per line, never blocking the app: service()
# is one cooperative step called from the app loop, like uplink.service().
#
# Frame (both directions), ASCII apart from the JSON payloads (UTF-8):
#   <VERB> <tag>[ <payload>] <crc>\n
# tag: the host's request number (1..), echoed in the reply so a late answer
# to an earlier try is never taken for the current one; 0 in a RETRY.
# crc: binascii.crc32 of everything before its space, as 8 lowercase hex
# digits. A payload never holds a newline (canonical JSON escapes it).
#
#   host -> device                 device -> host
#   HELLO <tag>                    HELLO <tag> {"device","fw","proto","role"}
#   LIST <tag>                     LIST <tag> {"device","first","fw","last","queue","role","signed"}
#   GET <tag> <after> <max_bytes>  RECORDS <tag> <records message>, or END <tag> when
#                                  no record after seq <after> is pending
#   ACK <tag> <ack message>        ACKED <tag> {"acked","queue"}, or REFUSED <tag> <why>
#   (a line that fails its CRC)    RETRY 0 <why>: send it again
#   (an unknown verb, bad args,    ERR <tag> <why>: the host tries again a few times
#    an error such as MemoryError)
# The RECORDS payload is byte for byte the MQTT records message of those
# records (wire.encode_batch_from_encoded(device, parts, wire.VERSION)),
# written piece by piece straight from the log, so a chunk can be larger
# than the MQTT one (up to wire.MAX_PAYLOAD and wire.MAX_BATCH_RECORDS)
# without holding it in RAM. The ACK payload is byte for byte the host's
# ack message, applied by uplink.apply_ack with the same verification as
# over MQTT: with a device_key only a version 2 ack signed with it deletes
# anything, so a forged ack over the cable deletes nothing (it is refused
# and counted in the status's "refused").
#
# Resume: the host asks by seq and nothing leaves the log without a
# verified ack, so a cable pulled at any moment costs only a resend; the
# host stores a resent record once (a duplicate). Every request is
# idempotent, so the host retries any frame that got no clean answer.
#
# The line: site.json "serial_port". On the Pico W, null: USB CDC, i.e.
# sys.stdin/sys.stdout, shared with the console (print output travels on
# the same line; the host skips any line that is not a frame). Under the
# unix port, a tty path (a socat pty in the tests), opened 'r+b' and set
# raw with VMIN=0 so a read returns what has arrived instead of blocking;
# a hang-up (the cable pulled, socat gone) closes it and it is reopened
# every second until the path answers again.
import binascii
import select
import sys

from micropython import const

import config
import wire
from uplink import apply_ack, compact_if_due

PROTO = 1
_LINE_MAX = const(2048)  # longest request line (an ACK frame: at most wire.DEVICE_BATCH_BYTES + 24)
_RX = const(256)  # bytes read from the line at a time (both buffers are allocated once: no fragmentation)
_STEP_MAX = const(4096)  # bytes taken from the line in one step
_HOT_MS = const(200)  # after a frame, the next is near: busy stays true this long
_STALL_MS = const(500)  # a tty that takes no byte for this long is given up (see TtyPort.write)
_REOPEN_MS = const(1000)
_VTIME = const(5)  # termios c_cc indexes (Linux)
_VMIN = const(6)


def crc_hex(body):
    return ("%08x" % (binascii.crc32(body) & 0xFFFFFFFF)).encode()


def encode_frame(verb, tag, payload=b""):
    """One frame line (bytes, with its newline)."""
    body = verb + b" " + str(tag).encode()
    if payload:
        body += b" " + payload
    return body + b" " + crc_hex(body) + b"\n"


def decode_frame(line):
    """(verb, tag, payload) of a frame line without its newline; ValueError if damaged."""
    i = line.rfind(b" ")
    if i < 0 or len(line) - i != 9:
        raise ValueError("not a frame")
    body = bytes(line[:i])
    if int(line[i + 1:], 16) != binascii.crc32(body) & 0xFFFFFFFF:
        raise ValueError("bad crc")
    parts = body.split(b" ", 2)
    if len(parts) < 2:
        raise ValueError("no tag")
    return parts[0], int(parts[1]), (parts[2] if len(parts) > 2 else b"")


class TtyPort:
    """A tty path under the unix port (a socat pty, a USB-serial adapter)."""

    def __init__(self, path):
        self.path = path
        self.f = None
        self.p = None

    def open(self):
        import termios

        f = open(self.path, "r+b")
        try:
            fd = f.fileno()
            termios.setraw(fd)
            a = termios.tcgetattr(fd)
            a[6][_VMIN] = 0  # read() returns what has arrived, never waits for more
            a[6][_VTIME] = 0
            termios.tcsetattr(fd, termios.TCSANOW, a)
        except Exception:
            f.close()
            raise
        self.f = f
        self.p = select.poll()
        self.p.register(f, select.POLLIN)
        self.pw = select.poll()
        self.pw.register(f, select.POLLOUT)

    def readinto(self, buf):
        """Bytes waiting now, read into ``buf``: how many (0 if none); OSError once the line is gone."""
        ev = self.p.poll(0)
        if not ev:
            return 0
        if ev[0][1] & (select.POLLHUP | select.POLLERR):
            raise OSError("hang-up")
        return self.f.readinto(buf) or 0  # VMIN=0: stops at what has arrived

    def write(self, data):
        # Nobody reading the far end (the laptop's program gone mid-answer) must not freeze the
        # app: a line that takes nothing for _STALL_MS is dropped and reopened; the host, if any,
        # sees a damaged frame and asks again.
        if not self.pw.poll(_STALL_MS):
            raise OSError("line stalled")
        self.f.write(data)  # unbuffered; flush() on a tty raises EINVAL

    def close(self):
        if self.f is not None:
            try:
                self.f.close()
            except OSError:
                pass
            self.f = None

    def __str__(self):
        return self.path


class UsbPort:
    """The Pico W's USB CDC: sys.stdin/sys.stdout, shared with the console."""

    def __init__(self):
        self.inp = sys.stdin.buffer
        self.out = sys.stdout.buffer
        self.p = select.poll()
        self.p.register(sys.stdin, select.POLLIN)

    def open(self):
        pass

    def readinto(self, buf):
        n = 0
        while n < len(buf) and self.p.poll(0):
            buf[n] = self.inp.read(1)[0]
            n += 1
        return n

    def write(self, data):
        self.out.write(data)

    def close(self):
        pass

    def __str__(self):
        return "usb"


def make_port(cfg):
    path = cfg.get("serial_port")
    if path:
        return TtyPort(path)
    if sys.platform == "rp2":
        return UsbPort()
    raise ValueError("offload: set serial_port in site.json to a tty path (the unix port has no USB)")


class Offload:
    """The device's end of `tiesense pull`. service() is one non-blocking step."""

    def __init__(self, cfg, board, log, uplink=None, port=None):
        self.board = board
        self.log = log
        self.uplink = uplink  # refused acks are counted in its status
        self.device = cfg["device"]
        self.role = cfg["role"]
        self.key = wire.key_bytes(cfg.get("device_key"))
        self.port = port or make_port(cfg)
        self.up = False
        self._hot_until = None  # ticks until which a pull is under way (see busy)
        self._next_open = board.ticks_ms()
        self._rx = bytearray(_RX)
        self._rxv = memoryview(self._rx)
        self._line = bytearray(_LINE_MAX)
        self._linev = memoryview(self._line)
        self._n = 0  # bytes of the current line in _line
        self._skipping = False  # dropping an overlong line up to its newline
        self.served = 0  # records sent (including resends)
        self.acked = 0  # records removed by acks over the line
        self.refused = 0  # acks refused (did not verify)
        self.errors = 0
        empty = wire.encode_batch_from_encoded(self.device, (), wire.VERSION)
        i = empty.index(b"[]") + 1
        self._head = empty[:i]
        self._tail = empty[i:]

    # ---------------------------------------------------------- the step

    @property
    def busy(self):
        """A frame came in the last _HOT_MS: a pull is under way, the app may poll again sooner."""
        h = self._hot_until
        if h is None:
            return False
        if self.board.ticks_diff(h, self.board.ticks_ms()) > 0:
            return True
        self._hot_until = None
        return False

    def service(self):
        """Take what has arrived, answer every whole request line; never raises on line trouble."""
        b = self.board
        if not self.up:
            if b.ticks_diff(b.ticks_ms(), self._next_open) < 0:
                return
            try:
                self.port.open()
            except OSError:
                self._next_open = b.ticks_add(b.ticks_ms(), _REOPEN_MS)
                return
            self.up = True
            self._n = 0
            self._skipping = False
            print("OFFLOAD listening on %s" % self.port)
        try:
            taken = 0
            rx = self._rx
            while taken < _STEP_MAX:
                k = self.port.readinto(rx)
                if not k:
                    break
                taken += k
                a = 0
                while a < k:
                    i = rx.find(b"\n", a, k)
                    end = k if i < 0 else i
                    if not self._skipping:
                        if self._n + end - a > _LINE_MAX:
                            self._skipping = True
                        else:
                            self._line[self._n:self._n + end - a] = self._rxv[a:end]
                            self._n += end - a
                    if i < 0:
                        break
                    a = i + 1
                    self._end_of_line()
        except OSError as e:
            self._lost(e)
        except Exception as e:  # e.g. MemoryError: drop the line (the host sends it again), keep the app running
            self.errors += 1
            self._n = 0
            self._skipping = True
            print("OFFLOAD dropped a line: %r" % e)

    def _end_of_line(self):
        n = self._n
        self._n = 0
        if self._skipping:
            self._skipping = False
            self._send(b"RETRY", 0, b"line too long")
            return
        line = bytes(self._linev[:n]).strip()
        if line:
            self._hot_until = self.board.ticks_add(self.board.ticks_ms(), _HOT_MS)
            self._handle(line)

    def _lost(self, e):
        self.port.close()
        self.up = False
        self._next_open = self.board.ticks_add(self.board.ticks_ms(), _REOPEN_MS)
        print("OFFLOAD line lost (%s); reopening" % e)

    def stop(self):
        self.port.close()
        self.up = False

    # ---------------------------------------------------------- requests

    def _send(self, verb, tag, payload=b""):
        self.port.write(encode_frame(verb, tag, payload))

    def _handle(self, line):
        try:
            verb, tag, payload = decode_frame(line)
        except ValueError as e:
            self._send(b"RETRY", 0, str(e).encode())
            return
        try:
            if verb == b"GET":
                a = payload.split(b" ")
                self._records(tag, int(a[0]), int(a[1]))
            elif verb == b"ACK":
                self._ack(tag, payload)
            elif verb == b"LIST":
                self._send(b"LIST", tag, self._list())
            elif verb == b"HELLO":
                self._send(b"HELLO", tag, wire.encode({"device": self.device, "fw": config.VERSION,
                                                       "proto": PROTO, "role": self.role}))
            else:
                self._send(b"ERR", tag, b"unknown verb " + verb[:16])
        except OSError:
            raise  # the line itself: _lost() in service()
        except Exception as e:  # a bad request never stops the app
            self.errors += 1
            why = (type(e).__name__ + ": " + str(e))[:64]
            print("OFFLOAD %s failed: %s" % (verb.decode(), why))
            self._send(b"ERR", tag, why.encode())

    def _list(self):
        first = None
        g = self.log.pending()
        try:
            for seq, _ in g:
                first = seq
                break
        finally:
            g.close()
        last = self.log.next_seq() - 1
        return wire.encode({"device": self.device, "first": first, "fw": config.VERSION,
                            "last": last if last > 0 else None, "queue": self.log.depth(), "role": self.role,
                            "signed": bool(self.key)})

    def _records(self, tag, after, max_bytes):
        """Stream the records message of the pending records after seq ``after`` (at most max_bytes)."""
        max_bytes = min(max(max_bytes, 256), wire.MAX_PAYLOAD)
        w = self.port.write
        size = len(self._head) + len(self._tail)
        crc = 0
        n = 0
        g = self.log.pending(after=after)
        try:
            for seq, rec in g:
                if n and (size + len(rec) + 1 > max_bytes or n >= wire.MAX_BATCH_RECORDS):
                    break
                if n:
                    piece = b","
                else:
                    piece = b"RECORDS " + str(tag).encode() + b" " + self._head
                crc = binascii.crc32(piece, crc)
                w(piece)
                crc = binascii.crc32(rec, crc)
                w(rec)
                size += len(rec) + 1
                n += 1
        finally:
            g.close()
        if not n:
            self._send(b"END", tag)
            return
        crc = binascii.crc32(self._tail, crc)
        w(self._tail + b" " + ("%08x" % (crc & 0xFFFFFFFF)).encode() + b"\n")
        self.served += n

    def _ack(self, tag, msg):
        try:
            seqs, n = apply_ack(self.log, msg, self.device, self.key)
        except wire.WireError as e:  # unsigned, forged, malformed: nothing deleted
            self.refused += 1
            if self.uplink is not None:
                self.uplink.refused += 1
            print("OFFLOAD refused ack: %s" % e)
            self._send(b"REFUSED", tag, str(e)[:96].encode())
            return
        self.acked += n
        compact_if_due(self.log)
        self._send(b"ACKED", tag, wire.encode({"acked": n, "queue": self.log.depth()}))
