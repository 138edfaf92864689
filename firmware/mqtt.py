# tiesense firmware: a small MQTT 3.1.1 client (QoS 0 and 1).
#
# Written for this project from the OASIS MQTT 3.1.1 specification. It speaks
# CONNECT (clean session, keepalive, last will, optional user/password, TLS via open_tls),
# PUBLISH QoS 0/1 with packet ids, PUBACK, SUBSCRIBE/SUBACK, PINGREQ/PINGRESP
# and DISCONNECT. It never blocks waiting for a PUBACK and never retransmits:
# the flash log (log.py) is the source of truth and uplink.py decides what to
# resend after the host's application-level ack. A PUBACK only says the broker
# took the message (Mosquitto acks even publishes its ACL drops).
#
# Memory: one transmit buffer and one receive buffer are allocated when the
# client is built; every packet is assembled in the transmit buffer and sent
# with one write (the unix port pays ~44 ms per small write otherwise: Nagle
# plus delayed ACK), and TCP_NODELAY is set where the socket module allows.
# Incoming messages are read into the receive buffer and handed to the
# callback as a memoryview that is valid only during the callback. A message
# larger than the receive buffer is dropped (counted in `dropped`), unless
# the application spools it (set_spool): then its payload streams through the
# receive buffer into a file on flash, one buffer at a time, and the
# application gets the file's path once the last byte is written. A payload
# cut short (connection lost, flash full) leaves no file behind; one cut by a
# power cut stays under the temporary name the application chose, for it to
# remove at boot.
#
# check_msg() is non-blocking (select.poll with timeout 0): it reads whatever
# whole packets are waiting, answers QoS 1 deliveries with PUBACK, and keeps
# the connection alive with PINGREQ. Any loss of the connection raises
# ConnectionLost; a refused CONNECT raises MQTTError with the return code.
import os
import select
import socket
import struct
import sys
import time

from micropython import const

_CONNECT = const(0x10)
_CONNACK = const(0x20)
_PUBLISH = const(0x30)
_PUBACK = const(0x40)
_SUBSCRIBE = const(0x82)
_SUBACK = const(0x90)
_PINGREQ = const(0xC0)
_PINGRESP = const(0xD0)
_DISCONNECT = const(0xE0)
_POLLIN = const(1)
_POLLOUT = const(4)
_POLLERR = const(8)
_POLLHUP = const(16)
_MAX_PER_CHECK = const(8)
_EINPROGRESS = const(115)  # errno on Linux and in MicroPython's lwIP ports alike
_EAGAIN = const(11)

# Return codes of CONNACK (MQTT 3.1.1 table 3.1).
CONNACK_REASONS = (
    "accepted",
    "unacceptable protocol version",
    "identifier rejected",
    "server unavailable",
    "bad user name or password",
    "not authorized",
)


class MQTTError(OSError):
    """The broker refused or broke the protocol."""


class ConnectionLost(MQTTError):
    """The TCP connection to the broker is gone (closed, reset, timed out)."""


def encode_length(buf, off, n):
    """Write the MQTT remaining length ``n`` at ``buf[off]``; return the new offset."""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            buf[off] = b | 0x80
            off += 1
        else:
            buf[off] = b
            return off + 1


def _len_size(n):
    s = 1
    while n > 127:
        n >>= 7
        s += 1
    return s


def open_tcp(host, port, timeout_ms=5000):
    """A TCP connection to host:port with TCP_NODELAY; ConnectionLost if the broker cannot be reached."""
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    sock = socket.socket(ai[0], socket.SOCK_STREAM)
    try:
        if hasattr(sock, "settimeout"):
            sock.settimeout(timeout_ms / 1000)
        sock.connect(ai[-1])
    except OSError as e:
        sock.close()
        raise ConnectionLost("cannot reach broker " + str(host) + ":" + str(port) + ": " + str(e))
    _nodelay(sock)
    return sock


def open_tls(host, port, ca_der, timeout_ms=5000):
    """:func:`open_tcp` wrapped in TLS, the broker's certificate checked against the CA certificate
    ``ca_der`` (DER bytes) and the host name; give it to ``MQTTClient.connect(sock=...)``.

    Raises ConnectionLost when the broker cannot be reached or its certificate is not the park's.
    """
    import ssl

    sock = open_tcp(host, port, timeout_ms)
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=ca_der)
        return ctx.wrap_socket(sock, server_hostname=host)
    except Exception as e:  # OSError from the handshake, ValueError from a bad CA file: the same outcome
        sock.close()
        raise ConnectionLost("TLS to " + str(host) + ":" + str(port) + " failed: " + str(e))


def _nodelay(sock):
    # MicroPython's unix port lacks the constants, lwIP builds may have them.
    lvl = getattr(socket, "IPPROTO_TCP", None)
    opt = getattr(socket, "TCP_NODELAY", None)
    if (lvl is None or opt is None) and sys.platform == "linux":
        lvl, opt = 6, 1  # Linux <netinet/tcp.h>
    if lvl is not None and opt is not None:
        try:
            sock.setsockopt(lvl, opt, 1)
        except OSError:
            pass


class MQTTClient:
    """One MQTT 3.1.1 session. Build once; ``connect`` again after a loss."""

    def __init__(self, client_id, keepalive=60, user=None, password=None, tx_size=1280, rx_size=4096,
                 ticks_ms=None, ticks_diff=None):
        self.client_id = client_id
        self.keepalive = keepalive
        self.user = user
        self.password = password
        self._tx = bytearray(tx_size)
        self._txmv = memoryview(self._tx)
        self._rx = bytearray(rx_size)
        self._rxmv = memoryview(self._rx)
        self._hdr = bytearray(1)
        self._hdrmv = memoryview(self._hdr)
        self._ticks = ticks_ms or time.ticks_ms
        self._diff = ticks_diff or time.ticks_diff
        self._will = None
        self._cb = None
        self._spool = None
        self._spooled = None
        self.sock = None
        self._poll = select.poll()
        self._pid = 0
        self.inflight = set()  # QoS 1 packet ids awaiting PUBACK
        self.subacks = {}  # packet id -> tuple of granted QoS codes
        self.dropped = 0  # deliveries larger than the receive buffer, not spooled
        self._last_tx = 0
        self._ping_at = None

    # ------------------------------------------------------------ set-up

    def set_callback(self, f):
        """``f(topic, payload, retained)``: topic str, payload memoryview (copy it to keep it)."""
        self._cb = f

    def set_spool(self, open_spool, spooled):
        """Stream deliveries larger than the receive buffer to flash instead of dropping them.

        ``open_spool(topic, size)``: the path of a file (a temporary name) to write the
        ``size``-byte payload into, or None to drop it (counted in ``dropped``).
        ``spooled(topic, path, retained)``: called once the whole payload is in that file,
        closed, before the PUBACK; the file is then the application's. A payload cut short
        never reaches ``spooled``: its file is removed (a full flash: the message is dropped
        and counted; a lost connection: ConnectionLost, as anywhere else).
        """
        self._spool = open_spool
        self._spooled = spooled

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self._will = (topic.encode() if isinstance(topic, str) else topic, msg, retain, qos)

    def _next_pid(self):
        self._pid = self._pid % 65535 + 1
        return self._pid

    # ------------------------------------------------------------ output

    def _buf(self, size):
        # The preallocated buffer, or (rarely) a bigger one-off.
        if size <= len(self._tx):
            return self._tx
        return bytearray(size)

    def _send(self, buf, n):
        mv = memoryview(buf)
        sent = 0
        try:
            while sent < n:
                k = self.sock.write(mv[sent:n])
                if k is None:  # would block: wait until writable
                    self._poll.poll(1000)
                    continue
                if k <= 0:
                    raise ConnectionLost("socket write returned " + str(k))
                sent += k
        except ConnectionLost:
            raise
        except OSError as e:
            raise ConnectionLost("write failed: " + str(e))
        self._last_tx = self._ticks()

    def connect(self, host=None, port=1883, sock=None, clean_session=True, timeout_ms=5000):
        """Open (or take) a socket, send CONNECT and wait for CONNACK.

        Returns the session-present flag. Raises MQTTError if refused,
        ConnectionLost if the link fails. Blocks up to ``timeout_ms`` twice
        (TCP, then CONNACK): an app loop uses start_connect()/connect_step().
        """
        if sock is None:
            sock = open_tcp(host, port, timeout_ms)
        self._take(sock, _POLLIN)
        self._send_connect(clean_session)
        # CONNACK must be the first packet back.
        if not self._poll.poll(timeout_ms):
            self.close()
            raise ConnectionLost("no CONNACK within " + str(timeout_ms) + " ms")
        return self._read_connack()

    def start_connect(self, host, port=1883, clean_session=True, timeout_ms=5000):
        """Begin connecting without blocking: a TCP connect in progress, then CONNECT and CONNACK,
        each advanced by :meth:`connect_step` (the caller keeps its own deadline)."""
        ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
        sock = socket.socket(ai[0], socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(ai[-1])
        except OSError as e:
            if e.args[0] not in (_EINPROGRESS, _EAGAIN):
                sock.close()
                raise ConnectionLost("cannot reach broker " + str(host) + ":" + str(port) + ": " + str(e))
        self._take(sock, _POLLOUT)
        self._pending = (1, clean_session, timeout_ms, str(host) + ":" + str(port))

    def connect_step(self):
        """One non-blocking step of :meth:`start_connect`: None while under way, then the
        session-present flag. Raises ConnectionLost or MQTTError as :meth:`connect` does."""
        phase, clean, timeout_ms, where = self._pending
        ev = self._poll.poll(0)
        if not ev:
            return None
        if ev[0][1] & (_POLLERR | _POLLHUP) and phase == 1:
            self.close()
            raise ConnectionLost("cannot reach broker " + where)
        if phase == 1:  # TCP up: back to the blocking-with-timeout socket the session uses
            if hasattr(self.sock, "settimeout"):
                self.sock.settimeout(timeout_ms / 1000)
            _nodelay(self.sock)
            self._poll.modify(self.sock, _POLLIN)
            self._pending = (2, clean, timeout_ms, where)
            self._send_connect(clean)
            return None
        self._pending = None
        return self._read_connack()

    def _take(self, sock, events):
        self.sock = sock
        self._poll = select.poll()
        self._poll.register(sock, events)
        self.inflight = set()
        self.subacks = {}
        self._ping_at = None

    def _send_connect(self, clean_session):
        cid = self.client_id.encode()
        flags = 0x02 if clean_session else 0
        size = 10 + 2 + len(cid)
        will = self._will
        if will:
            flags |= 0x04 | (will[3] << 3) | (0x20 if will[2] else 0)
            size += 4 + len(will[0]) + len(will[1])
        user = self.user.encode() if self.user else None
        pw = self.password.encode() if self.password is not None and user else None
        if user:
            flags |= 0x80
            size += 2 + len(user)
        if pw is not None:
            flags |= 0x40
            size += 2 + len(pw)
        buf = self._buf(1 + _len_size(size) + size)
        buf[0] = _CONNECT
        off = encode_length(buf, 1, size)
        struct.pack_into("!H4sBBH", buf, off, 4, b"MQTT", 4, flags, self.keepalive)
        off += 10
        off = self._put_str(buf, off, cid)
        if will:
            off = self._put_str(buf, off, will[0])
            off = self._put_str(buf, off, will[1])
        if user:
            off = self._put_str(buf, off, user)
        if pw is not None:
            off = self._put_str(buf, off, pw)
        self._send(buf, off)

    def _read_connack(self):
        kind, n = self._read_header()
        if kind != _CONNACK or n != 2:
            self.close()
            raise MQTTError("expected CONNACK, got packet type " + hex(kind))
        self._read_exact(self._rxmv, 2)
        rc = self._rx[1]
        if rc:
            self.close()
            why = CONNACK_REASONS[rc] if rc < len(CONNACK_REASONS) else "code " + str(rc)
            raise MQTTError("broker refused connection: " + why)
        return bool(self._rx[0] & 1)

    @staticmethod
    def _put_str(buf, off, b):
        n = len(b)
        buf[off] = n >> 8
        buf[off + 1] = n & 0xFF
        buf[off + 2:off + 2 + n] = b
        return off + 2 + n

    def publish(self, topic, msg, retain=False, qos=0):
        """Send one PUBLISH; returns its packet id (0 for QoS 0). Never waits."""
        t = topic.encode() if isinstance(topic, str) else topic
        size = 2 + len(t) + len(msg) + (2 if qos else 0)
        buf = self._buf(1 + _len_size(size) + size)
        buf[0] = _PUBLISH | (qos << 1) | (1 if retain else 0)
        off = encode_length(buf, 1, size)
        off = self._put_str(buf, off, t)
        pid = 0
        if qos:
            pid = self._next_pid()
            struct.pack_into("!H", buf, off, pid)
            off += 2
            self.inflight.add(pid)
        buf[off:off + len(msg)] = msg
        off += len(msg)
        self._send(buf, off)
        return pid

    def subscribe(self, topic, qos=0):
        """Send SUBSCRIBE for one topic filter; the SUBACK lands in ``subacks[pid]``."""
        t = topic.encode() if isinstance(topic, str) else topic
        size = 2 + 2 + len(t) + 1
        buf = self._buf(1 + _len_size(size) + size)
        buf[0] = _SUBSCRIBE
        off = encode_length(buf, 1, size)
        pid = self._next_pid()
        struct.pack_into("!H", buf, off, pid)
        off = self._put_str(buf, off + 2, t)
        buf[off] = qos
        self._send(buf, off + 1)
        return pid

    def ping(self):
        self._tx[0] = _PINGREQ
        self._tx[1] = 0
        self._send(self._tx, 2)
        if self._ping_at is None:
            self._ping_at = self._ticks()

    def disconnect(self):
        """Polite DISCONNECT (the broker then discards the last will) and close."""
        if self.sock is not None:
            try:
                self._tx[0] = _DISCONNECT
                self._tx[1] = 0
                self._send(self._tx, 2)
            except OSError:
                pass
        self.close()

    def close(self):
        if self.sock is not None:
            try:
                self._poll.unregister(self.sock)
            except Exception:
                pass
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    # ------------------------------------------------------------- input

    def _read_exact(self, mv, n):
        # mv must be a memoryview: slicing a bytearray would read into a copy.
        got = 0
        try:
            while got < n:
                k = self.sock.readinto(mv[got:n])
                if k is None:  # non-blocking socket without data yet
                    if not self._poll.poll(5000):
                        raise ConnectionLost("packet stalled mid-way")
                    continue
                if k == 0:
                    raise ConnectionLost("broker closed the connection")
                got += k
        except ConnectionLost:
            self.close()
            raise
        except OSError as e:
            self.close()
            raise ConnectionLost("read failed: " + str(e))

    def _read_header(self):
        self._read_exact(self._hdrmv, 1)
        kind = self._hdr[0]
        n = 0
        shift = 0
        while True:
            self._read_exact(self._hdrmv, 1)
            b = self._hdr[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return kind, n
            shift += 7
            if shift > 21:
                self.close()
                raise ConnectionLost("malformed remaining length")

    def _skip(self, n):
        while n:
            k = min(n, len(self._rx))
            self._read_exact(self._rxmv, k)
            n -= k

    def _readable(self):
        for ev in self._poll.poll(0):
            if ev[1] & (_POLLERR | _POLLHUP) and not ev[1] & _POLLIN:
                self.close()
                raise ConnectionLost("socket error or hang-up")
            return True
        return False

    def check_msg(self):
        """Handle every whole packet waiting now (up to a few); never blocks on an idle link.

        Returns the number of packets handled. Sends PINGREQ when the link has
        been quiet for half the keepalive and raises ConnectionLost when a
        PINGRESP is overdue.
        """
        if self.sock is None:
            raise ConnectionLost("not connected")
        handled = 0
        while handled < _MAX_PER_CHECK and self._readable():
            self._handle_one()
            handled += 1
        if self.keepalive:
            now = self._ticks()
            if self._ping_at is not None and self._diff(now, self._ping_at) > self.keepalive * 1000:
                self.close()
                raise ConnectionLost("no PINGRESP within the keepalive")
            if self._diff(now, self._last_tx) >= self.keepalive * 500:
                self.ping()
        return handled

    def _handle_one(self):
        kind, n = self._read_header()
        t = kind & 0xF0
        if t == _PUBLISH:
            self._handle_publish(kind, n)
        elif t == _PUBACK and n == 2:
            self._read_exact(self._rxmv, 2)
            self.inflight.discard((self._rx[0] << 8) | self._rx[1])
        elif t == _SUBACK and n >= 3 and n <= len(self._rx):
            self._read_exact(self._rxmv, n)
            self.subacks[(self._rx[0] << 8) | self._rx[1]] = tuple(self._rx[2:n])
        elif t == _PINGRESP:
            self._skip(n)
            self._ping_at = None
        else:
            self._skip(n)

    def _handle_publish(self, kind, n):
        qos = (kind >> 1) & 3
        if n > len(self._rx):
            self._handle_large(kind, n, qos)
            return
        self._read_exact(self._rxmv, n)
        rx = self._rx
        tlen = (rx[0] << 8) | rx[1]
        topic = bytes(self._rxmv[2:2 + tlen]).decode()
        off = 2 + tlen
        pid = 0
        if qos:
            pid = (rx[off] << 8) | rx[off + 1]
            off += 2
        if self._cb is not None:
            self._cb(topic, self._rxmv[off:n], bool(kind & 1))
        if qos == 1:
            self._puback(pid)

    def _handle_large(self, kind, n, qos):
        # Too large for the receive buffer: spooled to a file if the application asks for it,
        # else dropped; acknowledged either way (a QoS 1 message left unacked comes back).
        rx = self._rx
        self._read_exact(self._rxmv, 2)
        tlen = (rx[0] << 8) | rx[1]
        size = n - 2 - tlen - (2 if qos else 0)
        if size < 0:
            self.close()
            raise ConnectionLost("malformed PUBLISH: topic longer than the packet")
        topic = None
        if tlen <= len(rx):
            self._read_exact(self._rxmv, tlen)
            topic = bytes(self._rxmv[:tlen]).decode()
        else:
            self._skip(tlen)
        pid = 0
        if qos:
            self._read_exact(self._rxmv, 2)
            pid = (rx[0] << 8) | rx[1]
        path = None
        if topic is not None and self._spool is not None:
            path = self._spool(topic, size)
        if path is None:
            self._skip(size)
            self.dropped += 1
        elif self._spool_into(path, size):
            self._spooled(topic, path, bool(kind & 1))
        else:
            self.dropped += 1
        if qos == 1:
            self._puback(pid)

    def _spool_into(self, path, size):
        # The payload's ``size`` bytes, one receive buffer at a time, into the file ``path``.
        # True once all are written and the file closed; else the file is removed (and a lost
        # connection raises ConnectionLost, after the removal).
        try:
            f = open(path, "wb")
        except OSError:
            self._skip(size)
            return False
        written = True
        try:
            while size:
                k = min(size, len(self._rx))
                self._read_exact(self._rxmv, k)
                size -= k
                if written:
                    try:
                        f.write(self._rxmv[:k])
                    except OSError:  # flash full: read the rest of the packet all the same
                        written = False
        finally:
            try:
                f.close()
            except OSError:
                written = False
            if size or not written:
                try:
                    os.remove(path)
                except OSError:
                    pass
        return written

    def _puback(self, pid):
        self._tx[0] = _PUBACK
        self._tx[1] = 2
        self._tx[2] = pid >> 8
        self._tx[3] = pid & 0xFF
        self._send(self._tx, 4)
