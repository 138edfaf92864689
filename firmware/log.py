# tiesense firmware: the record log on flash, a ring of segment files.
#
# The log is the source of truth for every record a device has taken: a
# record leaves the device only when the host has acknowledged it (seq AND
# instance id match), never because a PUBLISH went out or a PUBACK came back.
#
# Files, all in one directory (default "data"):
#   seg.<first>  up to 30 records, one line each:
#                b"<seq> <crc32 as 8 hex> <payload>\n"; the CRC covers
#                b"<seq> " + payload, and payload is what the caller's encode
#                made of the record (v1: wire.encode_record, canonical JSON),
#                never containing a newline. <first> is the seq of the
#                segment's first record; seqs rise within and across
#                segments. A segment takes records until it holds 30, or the
#                next one would take it past one filesystem block (4 KiB on
#                the Pico W; 1 KiB on disks of smaller blocks); the next
#                append then starts seg.<seq>. Flushed
#                after each record (littlefs commits a file on flush), so a
#                record whose append() returned survives a power cut.
#   ack.<first>  the acknowledged records of seg.<first>: one line
#                b"<seq - first>\n" per ack, appended and closed at each ack.
#                At most 30 lines of 2-3 bytes, so littlefs keeps it inside
#                the directory's metadata (no block of its own): acks still go
#                in when the flash is full.
#   hwm          the highest seq ever issued, written (hwm.tmp + rename)
#                before any segment is deleted, so a seq is never reused,
#                even when the log is empty.
# A segment is deleted (the segment first, then its ack file) once every
# record in it is acknowledged: by ack() as soon as it takes no more appends,
# by compact() the newest one too. Nothing is ever copied, so acknowledging
# and deleting need no free flash beyond the reserve below.
#
# Power cuts: littlefs keeps a file as of its last flush, so a record is
# whole or absent. Elsewhere (the unix port's files) a torn last line (no
# newline, bad CRC) is skipped on open and counted in `dropped`, and appends
# go to a new segment rather than after it. A cut between deleting a segment
# and its ack file leaves an ack file alone, removed on open; a segment whose
# records are all acknowledged (or all damaged) is removed on open as well.
#
# Full flash: append() raises StorageFull, before writing anything, when
# fewer than `reserve` bytes (default 4 filesystem blocks, os.statvfs) would
# be left after the largest record, or when the segments would pass
# `capacity` (optional). storage_full() answers the same question beforehand
# and free_bytes() says how much the log may still take. The reserve is what
# acks, the hwm file and the directory's metadata need to free space again.
#
# RAM: a table of one entry per segment (first seq, slots, done mask, done
# count, bytes), five lists of small integers allocated when the log opens
# and sized by the filesystem (128 entries for a Pico W's 212 blocks, more added if needed), so
# neither the backlog nor segments coming and going allocate anything that
# stays. Payloads and their offsets stay on flash: pending(), get() and ack()
# scan a segment's lines when they need them (a cursor remembers the last
# line found, so acks in order do not rescan).
#
# Firmware 0.1 kept one file `log` (the same line format) with `acks`
# (b"<seq> <instance id> <crc32>\n" lines). On open such a log is renamed to
# seg.<its first seq> and its acks rewritten as ack.<first>: an upgraded
# device keeps its queue without copying it (that one segment may hold more
# than 30 records; its done mask is a longer integer).
#
# Flush cost: flushing every record erases ~6x more than flushing every ten;
# a kiosk takes a record every minute at most, so durability wins here.
import binascii
import os

from micropython import const

import wire

_HEX8 = "%08x"
_SEG_RECORDS = const(30)  # slots per segment: its done mask stays a small int on the RP2040
# A segment closes before it outgrows one filesystem block, or 1 KiB on a disk of smaller blocks:
# littlefs gives a file whole blocks, so on the Pico W (4 KiB blocks) a segment of 30 signed
# records spread over two blocks would leave a third of them empty.
_SEG_MIN_BYTES = const(1024)
_RESERVE_BLOCKS = const(4)  # default reserve, in filesystem blocks
_ENOSPC = const(28)
_LINE_EXTRA = const(22)  # b"<seq> <crc> " and b"\n" around a payload (seq up to 10 digits)
_TABLE_MAX = const(128)  # most segment entries allocated up front (more are added if needed)


class StorageFull(OSError):
    """The flash cannot take another record; nothing was written."""


def _crc(seq_b, payload):
    return binascii.crc32(payload, binascii.crc32(seq_b + b" ")) & 0xFFFFFFFF


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _seq_of(line):
    """The seq a line starts with (not checked), or -1."""
    a = line.find(b" ")
    if a <= 0:
        return -1
    try:
        return int(line[:a])
    except ValueError:
        return -1


def _parse_line(line):
    """(seq, payload) of a whole, intact log line, else None."""
    if not line.endswith(b"\n"):
        return None
    a = line.find(b" ")
    if a <= 0 or line[a + 9:a + 10] != b" ":
        return None
    try:
        seq = int(line[:a])
        crc = int(line[a + 1:a + 9], 16)
    except ValueError:
        return None
    payload = line[a + 10:-1]
    if seq < 1 or _crc(line[:a], payload) != crc:
        return None
    return seq, payload


def _default_encode(rec, seq):
    rec["seq"] = seq
    return wire.encode_record(rec)


def instance_id_of(payload):
    """The id (bytes) of an encoded record of either contract version, found without parsing JSON."""
    return wire.record_id(payload)


class Log:
    """The device's record queue on flash. See the module comment for the format.

    ``encode(rec, seq) -> bytes`` turns a record into its stored payload
    (default: v1, ``rec["seq"] = seq`` and ``wire.encode_record``). ``reserve``
    (bytes) is left free for acks and deletions; ``capacity`` (bytes), if
    given, caps what the segments may hold.
    """

    def __init__(self, root="data", max_record=None, encode=None, reserve=None, capacity=None):
        self.root = root
        self.max_record = max_record or (wire.DEVICE_BATCH_BYTES - 48)
        self._encode = encode or _default_encode
        self.capacity = capacity
        self.dropped = 0  # damaged lines found on open
        self._w = None  # the newest segment's file, open for appends
        self._tail = False  # the newest segment takes more appends
        self._cursor = None  # (first, seq, offset) of the last line found by _payload
        self._hwm = 0
        self._hwm_saved = 0
        self._depth = 0  # records not yet acknowledged
        self._done = 0  # slots done in the segments still on flash
        self._held = 0  # bytes of the segments
        try:
            os.mkdir(root)
        except OSError:
            pass
        st = os.statvfs(root)
        bs = st[1]
        # The segment table, oldest first: entry i is segment seg.<_first[i]>,
        # whose slot k is seq _first[i] + k; _mask[i] has bit k set when slot
        # k is done (acknowledged, or missing: a damaged line), _ndone[i]
        # counts them; _size[i] is the file's bytes. Lists of small integers
        # allocated here, sized for the whole filesystem, so the table never
        # scatters small objects over the heap as segments come and go.
        cap = min(st[2] * bs // max(bs, _SEG_MIN_BYTES) + 8, _TABLE_MAX)
        self._first = [0] * cap
        self._slots = [0] * cap
        self._mask = [0] * cap
        self._ndone = [0] * cap
        self._size = [0] * cap
        self._n = 0
        self.reserve = _RESERVE_BLOCKS * bs if reserve is None else reserve
        self._seg_bytes = max(bs, _SEG_MIN_BYTES) - 8
        line = self.max_record + _LINE_EXTRA
        # What one append may take from the filesystem: littlefs copies a
        # file's partly written last block, and the record may spill into one more.
        self._room = bs + (line + bs - 1) // bs * bs
        self._line_max = line
        for p in ("/hwm.tmp", "/log.tmp", "/acks.tmp"):
            _remove(root + p)
        self._migrate()
        self._open()

    # -------------------------------------------------------------- files

    def _seg_path(self, first):
        return self.root + "/seg." + str(first)

    def _ack_path(self, first):
        return self.root + "/ack." + str(first)

    def _save_hwm(self):
        tmp = self.root + "/hwm.tmp"
        with open(tmp, "wb") as f:
            f.write(str(self._hwm).encode())
        os.rename(tmp, self.root + "/hwm")
        self._hwm_saved = self._hwm

    # ------------------------------------------------------ segment table

    def _add(self, first, slots, mask, done, size):
        i = self._n
        if i == len(self._first):
            more = [0] * (i // 2 + 4)
            for t in (self._first, self._slots, self._mask, self._ndone, self._size):
                t.extend(more)
        self._first[i] = first
        self._slots[i] = slots
        self._mask[i] = mask
        self._ndone[i] = done
        self._size[i] = size
        self._n = i + 1
        self._depth += slots - done
        self._done += done
        self._held += size

    def _remove_at(self, i):
        n = self._n - 1
        for t in (self._first, self._slots, self._mask, self._ndone, self._size):
            for j in range(i, n):
                t[j] = t[j + 1]
            t[n] = 0
        self._n = n

    def _seg_of(self, seq):
        """The index of the segment whose slots hold ``seq``, or -1."""
        i = self._at_or_before(seq)
        if i >= 0 and seq - self._first[i] < self._slots[i]:
            return i
        return -1

    def _at_or_before(self, seq):
        """The index of the last segment whose first seq is <= ``seq``, or -1."""
        f = self._first
        lo, hi = 0, self._n
        while lo < hi:
            mid = (lo + hi) >> 1
            if f[mid] <= seq:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    def _next_seg(self, seq):
        """The index of the oldest segment with a slot after ``seq`` not done, or -1."""
        i = self._at_or_before(seq)
        if i < 0:
            i = 0
        while i < self._n:
            if self._first[i] + self._slots[i] - 1 > seq and self._ndone[i] < self._slots[i]:
                return i
            i += 1
        return -1

    # --------------------------------------------------------------- open

    def _migrate(self):
        """Turn firmware 0.1's `log` and `acks` into a segment and its ack file, in place."""
        old = self.root + "/log"
        old_acks = self.root + "/acks"
        if not _exists(old):
            _remove(old_acks)  # left by a migration cut short after the rename
            return
        first = 0
        last = 0
        with open(old, "rb") as f:
            for line in f:
                p = _parse_line(line)
                if p is not None:
                    if not first:
                        first = p[0]
                    last = p[0]
        hwm = self._read_hwm()
        acked = []
        if _exists(old_acks):
            with open(old_acks, "rb") as f:
                for line in f:
                    parts = line[:-1].split(b" ")
                    if not line.endswith(b"\n") or len(parts) != 3:
                        continue
                    try:
                        seq = int(parts[0])
                        ok = _crc(parts[0], parts[1]) == int(parts[2], 16)
                    except ValueError:
                        continue
                    if ok:
                        hwm = max(hwm, seq)
                        if first <= seq <= last:
                            acked.append(seq - first)
        self._hwm = max(hwm, last)
        self._save_hwm()
        if first:
            tmp = self._ack_path(first) + ".tmp"
            with open(tmp, "wb") as f:
                for slot in acked:
                    f.write(str(slot).encode() + b"\n")
            os.rename(tmp, self._ack_path(first))
            os.rename(old, self._seg_path(first))
        else:
            os.remove(old)
        _remove(old_acks)

    def _read_hwm(self):
        try:
            with open(self.root + "/hwm", "rb") as f:
                return int(f.read().strip() or b"0")
        except (OSError, ValueError):
            return 0

    def _open(self):
        hwm = self._hwm_saved = self._read_hwm()
        firsts = []
        acks = []
        stale = []
        for entry in os.ilistdir(self.root):
            name = entry[0]
            if name.endswith(".tmp"):
                stale.append(name)
            elif name.startswith("seg.") or name.startswith("ack."):
                try:
                    n = int(name[4:])
                except ValueError:
                    continue
                (firsts if name[0] == "s" else acks).append(n)
        for name in stale:
            _remove(self.root + "/" + name)
        firsts.sort()
        for a in acks:
            if a not in firsts:  # its segment was deleted; the cut came before the ack file
                _remove(self._ack_path(a))
        acks = None
        bad = 0
        tail_ok = False
        for k in range(len(firsts)):
            first = firsts[k]
            limit = firsts[k + 1] if k + 1 < len(firsts) else 0
            last = first - 1
            mask = 0
            done = 0
            size = 0
            tail_ok = True
            with open(self._seg_path(first), "rb") as f:
                for line in f:
                    size += len(line)
                    tail_ok = line.endswith(b"\n")
                    p = _parse_line(line)
                    if p is None or p[0] <= last or (limit and p[0] >= limit):
                        bad += 1
                        continue
                    while last + 1 < p[0]:  # a missing seq: its line was damaged
                        last += 1
                        mask |= 1 << (last - first)
                        done += 1
                    last = p[0]
            slots = last - first + 1
            try:
                with open(self._ack_path(first), "rb") as f:
                    for line in f:
                        if line.endswith(b"\n"):
                            try:
                                slot = int(line)
                            except ValueError:
                                continue
                            if 0 <= slot < slots and not (mask >> slot) & 1:
                                mask |= 1 << slot
                                done += 1
            except OSError:
                pass
            if last > hwm:
                hwm = last
            self._add(first, slots, mask, done, size)
        firsts = None
        self._hwm = hwm
        self.dropped = bad
        n = self._n
        self._tail = (n > 0 and tail_ok and self._slots[n - 1] < _SEG_RECORDS
                      and self._size[n - 1] < self._seg_bytes)
        self.compact()

    def close(self):
        if self._w is not None:
            try:
                self._w.close()
            except OSError:
                pass
            self._w = None
        self._tail = False

    # ------------------------------------------------------------- space

    def _space(self):
        """(free bytes, full): one statvfs."""
        st = os.statvfs(self.root)
        avail = st[4]
        if avail > st[2]:  # littlefs can count a block twice on a full flash: free "-1" blocks
            avail = 0
        fs = st[1] * avail - self.reserve
        full = fs < self._room
        free = fs
        if self.capacity is not None:
            left = self.capacity - self._held
            full = full or left < self._line_max
            free = min(free, left)
        return (free if free > 0 else 0), full

    def free_bytes(self):
        """Bytes the log may still take (the reserve and the capacity kept)."""
        return self._space()[0]

    def storage_full(self):
        """True when append() would refuse a record (StorageFull) now."""
        return self._space()[1]

    # ------------------------------------------------------------ append

    def next_seq(self):
        return self._hwm + 1

    def append(self, rec):
        """Give ``rec`` the next seq, write it durably and return the seq.

        Raises StorageFull (nothing written) when the flash is too full, and
        ValueError when the encoded record is too large or holds a newline.
        """
        seq = self._hwm + 1
        payload = self._encode(rec, seq)
        if len(payload) > self.max_record:
            raise ValueError("record of " + str(len(payload)) + " bytes exceeds " + str(self.max_record))
        for c in payload:  # (a loop: the signer's payload is a memoryview, which has no find or in)
            if c == 10:
                raise ValueError("record holds a newline")
        if self._space()[1]:
            raise StorageFull(_ENOSPC, "flash full: " + str(self._depth) + " records wait for the host")
        seq_b = str(seq).encode()
        head = seq_b + b" " + (_HEX8 % _crc(seq_b, payload)).encode() + b" "
        size = len(head) + len(payload) + 1
        i = self._n - 1 if self._tail else -1
        if i >= 0 and (self._size[i] + size > self._seg_bytes or seq != self._first[i] + self._slots[i]):
            i = -1  # full, or a seq was lost in between (a failed append): a new segment
        try:
            if i < 0:
                self.close()
                self._w = open(self._seg_path(seq), "wb")
            elif self._w is None:  # the newest segment, reopened after a restart
                self._w = open(self._seg_path(self._first[i]), "ab")
            f = self._w
            f.write(head)
            f.write(payload)
            f.write(b"\n")
            f.flush()
        except OSError:
            # What reached the file is unknown: never write after it, never reissue the seq.
            self.close()
            self._hwm = seq
            raise
        self._hwm = seq
        if i < 0:
            self._add(seq, 1, 0, 0, size)
            self._tail = True
            i = self._n - 1
        else:
            self._slots[i] += 1
            self._size[i] += size
            self._depth += 1
            self._held += size
        if self._slots[i] >= _SEG_RECORDS or self._size[i] >= self._seg_bytes:
            self.close()
        return seq

    # ----------------------------------------------------------- reading

    def depth(self):
        """Records still waiting for the host's ack."""
        return self._depth

    def seqs(self):
        """The unacked seqs, ascending (a generator: the backlog is never held in RAM)."""
        seq = 0
        while True:
            i = self._next_seg(seq)
            if i < 0:
                return
            first = self._first[i]
            slots = self._slots[i]
            mask = self._mask[i]
            k = seq - first + 1 if seq >= first else 0
            while k < slots and (mask >> k) & 1:
                k += 1
            if k < slots:
                seq = first + k
                yield seq
            else:
                seq = first + slots - 1

    def _payload(self, i, seq):
        """The payload of ``seq`` in segment ``i`` read from flash, or None if damaged."""
        first = self._first[i]
        off = 0
        c = self._cursor
        if c is not None and c[0] == first and c[1] <= seq:
            off = c[2]
        with open(self._seg_path(first), "rb") as f:
            f.seek(off)
            while True:
                line = f.readline()
                if not line:
                    return None
                if _seq_of(line) == seq:
                    p = _parse_line(line)
                    if p is not None:
                        self._cursor = (first, seq, off)
                        return p[1]
                off += len(line)

    def pending(self, after=0, skip=()):
        """Yield (seq, encoded record bytes) of every unacked record with seq > after, oldest first.

        Seqs in `skip` (e.g. those already in flight) are passed over without
        reading them. No file stays open across a yield, so the caller may
        ack (and so delete segments) while it iterates.
        """
        seq = after
        first = None
        off = 0
        while True:
            i = self._next_seg(seq)
            if i < 0:
                return
            if self._first[i] != first:
                first = self._first[i]
                off = 0
            slots = self._slots[i]
            mask = self._mask[i]
            hit = None
            with open(self._seg_path(first), "rb") as f:
                f.seek(off)
                while True:
                    line = f.readline()
                    if not line:
                        break
                    off += len(line)
                    s = _seq_of(line)
                    k = s - first
                    if s <= seq or k < 0 or k >= slots or (mask >> k) & 1 or s in skip:
                        continue
                    hit = _parse_line(line)
                    if hit is not None and hit[0] == s:
                        break
                    hit = None
            if hit is None:
                seq = max(seq, first + slots - 1)
            else:
                seq = hit[0]
                yield hit

    def get(self, seq):
        """The stored payload of an unacked ``seq``, else None."""
        i = self._seg_of(seq)
        if i < 0 or (self._mask[i] >> (seq - self._first[i])) & 1:
            return None
        return self._payload(i, seq)

    # --------------------------------------------------------------- ack

    def ack(self, seq, instance_id):
        """Record the host's ack; True if ``seq`` was pending with that instance id."""
        i = self._seg_of(seq)
        if i < 0:
            return False
        first = self._first[i]
        k = seq - first
        if (self._mask[i] >> k) & 1:
            return False
        if isinstance(instance_id, str):
            instance_id = instance_id.encode()
        payload = self._payload(i, seq)
        if payload is None or instance_id_of(payload) != instance_id:
            return False
        with open(self._ack_path(first), "ab") as f:
            f.write(str(k).encode() + b"\n")
        self._mask[i] |= 1 << k
        self._ndone[i] += 1
        self._done += 1
        self._depth -= 1
        if self._ndone[i] == self._slots[i] and not (self._tail and i == self._n - 1):
            self._drop(i)
        return True

    def acked_in_file(self):
        """Records acked (or found damaged) whose segment is still on flash."""
        return self._done

    # ----------------------------------------------------------- compact

    def _drop(self, i):
        """Delete segment ``i`` (every slot done), then its ack file."""
        if self._hwm > self._hwm_saved:
            self._save_hwm()
        first = self._first[i]
        if i == self._n - 1:
            self.close()
        try:
            os.remove(self._seg_path(first))
        except OSError:
            if _exists(self._seg_path(first)):
                raise  # the ack file must outlive its segment
        _remove(self._ack_path(first))
        self._done -= self._ndone[i]
        self._held -= self._size[i]
        self._remove_at(i)
        if self._cursor is not None and self._cursor[0] == first:
            self._cursor = None

    def compact(self):
        """Delete every segment whose records are all acknowledged, the newest too."""
        i = 0
        while i < self._n:
            if self._ndone[i] == self._slots[i]:
                self._drop(i)
            else:
                i += 1
