# tiesense firmware: the append-only record log on flash.
#
# The log is the source of truth for every record a device has taken: a
# record leaves the device only when the host has acknowledged it (seq AND
# instance id match), never because a PUBLISH went out or a PUBACK came back.
#
# Files, all in one directory (default "data"):
#   log   one line per record: b"<seq> <crc32 as 8 hex> <payload>\n", where
#         payload is wire.encode_record(rec) (canonical JSON, never contains a
#         newline) and the CRC covers b"<seq> " + payload. Flushed after each
#         record (littlefs commits the file on flush), so a record whose
#         append() returned survives a power cut.
#   acks  one line per acknowledged record: b"<seq> <instance id> <crc32>\n",
#         flushed after each ack.
#   hwm   the highest seq ever issued, written (temp file + rename) before
#         compaction removes lines, so a seq is never reused even when the
#         log is empty.
# On open, a torn last line (no newline, bad CRC: the power went mid-write)
# is dropped, and if anything was dropped the files are rewritten clean.
# compact() writes the unacknowledged lines to log.tmp and renames it over
# log, then empties acks the same way; a power cut at any point leaves either
# the old or the new file, and stale acks only name seqs that are never
# issued again.
#
# Flush cost: flushing every record erases ~6x more than flushing every ten;
# a kiosk takes a record every minute at most, so durability wins here.
#
# RAM: two arrays of 4-byte integers (seq, file offset) per line in the log
# file and a set of the acked seqs still in it (compact() empties it);
# payloads stay on flash and pending() reads them one line at a time.
import binascii
import os
from array import array

import wire

_HEX8 = "%08x"


def _crc(seq_b, payload):
    return binascii.crc32(payload, binascii.crc32(seq_b + b" ")) & 0xFFFFFFFF


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


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


def _parse_ack(line):
    """(seq, instance id bytes) of an intact ack line, else None."""
    if not line.endswith(b"\n"):
        return None
    parts = line[:-1].split(b" ")
    if len(parts) != 3:
        return None
    try:
        seq = int(parts[0])
        crc = int(parts[2], 16)
    except ValueError:
        return None
    if _crc(parts[0], parts[1]) != crc:
        return None
    return seq, parts[1]


def instance_id_of(payload):
    """The id of an encoded record (bytes) of either contract version, found without parsing JSON."""
    return wire.record_id(payload)


def _encode_v1(rec, seq):
    rec["seq"] = seq
    return wire.encode_record(rec)


class Log:
    """The device's record queue on flash. See the module comment for the format."""

    def __init__(self, root="data", max_record=None, encode=None):
        self.root = root
        # encode(rec, seq) -> the bytes to store: the record given its seq (and, in contract
        # version 2, signed); the default is a version 1 record (a dict)
        self._encode = encode or _encode_v1
        self._path = root + "/log"
        self._acks_path = root + "/acks"
        self._hwm_path = root + "/hwm"
        self.max_record = max_record or (wire.DEVICE_BATCH_BYTES - 48)
        self._seqs = array("L")  # seqs of the lines in the log file, ascending
        self._offs = array("L")  # their line offsets
        self._acked = set()  # seqs acked but still in the log file
        self.dropped = 0  # damaged lines dropped on open
        self._hwm = 0
        try:
            os.mkdir(root)
        except OSError:
            pass
        for p in (self._path + ".tmp", self._acks_path + ".tmp", self._hwm_path + ".tmp"):
            if _exists(p):
                os.remove(p)
        self._open()

    # -------------------------------------------------------------- open

    def _open(self):
        hwm = 0
        if _exists(self._hwm_path):
            with open(self._hwm_path, "rb") as f:
                try:
                    hwm = int(f.read().strip() or b"0")
                except ValueError:
                    hwm = 0
        acked = set()
        bad = 0
        if _exists(self._acks_path):
            with open(self._acks_path, "rb") as f:
                for line in f:
                    a = _parse_ack(line)
                    if a is None:
                        bad += 1
                        continue
                    acked.add(a[0])
                    if a[0] > hwm:
                        hwm = a[0]
        seqs = array("L")
        offs = array("L")
        kept = set()  # acked seqs whose lines are still in the file
        off = 0
        if _exists(self._path):
            with open(self._path, "rb") as f:
                for line in f:
                    p = _parse_line(line)
                    if p is None or (seqs and p[0] <= seqs[-1]):
                        bad += 1
                    else:
                        seq = p[0]
                        if seq > hwm:
                            hwm = seq
                        if seq in acked:
                            kept.add(seq)
                        seqs.append(seq)
                        offs.append(off)
                    off += len(line)
        self._hwm = hwm
        self._seqs = seqs
        self._offs = offs
        self._acked = kept
        self.dropped = bad
        self._log_end = off
        self._log = open(self._path, "ab")
        self._acks = open(self._acks_path, "ab")
        if bad:
            self.compact()

    def close(self):
        for f in (self._log, self._acks):
            try:
                f.close()
            except OSError:
                pass

    # ------------------------------------------------------------ append

    def next_seq(self):
        return self._hwm + 1

    def append(self, rec):
        """Give ``rec`` the next seq, write it durably and return the seq."""
        seq = self._hwm + 1
        payload = self._encode(rec, seq)
        if len(payload) > self.max_record:
            raise ValueError("record of " + str(len(payload)) + " bytes exceeds " + str(self.max_record))
        seq_b = str(seq).encode()
        head = seq_b + b" " + (_HEX8 % _crc(seq_b, payload)).encode() + b" "
        f = self._log
        f.write(head)
        f.write(payload)
        f.write(b"\n")
        f.flush()
        self._hwm = seq
        self._seqs.append(seq)
        self._offs.append(self._log_end)
        self._log_end += len(head) + len(payload) + 1
        return seq

    # ----------------------------------------------------------- reading

    def depth(self):
        """Records still waiting for the host's ack."""
        return len(self._seqs) - len(self._acked)

    def seqs(self):
        """The unacked seqs, ascending."""
        return [s for s in self._seqs if s not in self._acked]

    def _find(self, seq):
        lo, hi = 0, len(self._seqs)
        while lo < hi:
            mid = (lo + hi) >> 1
            if self._seqs[mid] < seq:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self._seqs) and self._seqs[lo] == seq:
            return lo
        return -1

    def _read_at(self, f, off):
        f.seek(off)
        p = _parse_line(f.readline())
        return p[1] if p else None

    def pending(self, after=0, skip=()):
        """Yield (seq, encoded record bytes) of every unacked record with seq > after, oldest first.

        Seqs in `skip` (e.g. those already in flight) are passed over without reading them.
        """
        with open(self._path, "rb") as f:
            i = 0
            while i < len(self._seqs):
                seq = self._seqs[i]
                if seq > after and seq not in self._acked and seq not in skip:
                    payload = self._read_at(f, self._offs[i])
                    if payload is not None:
                        yield seq, payload
                i += 1

    def get(self, seq):
        i = self._find(seq)
        if i < 0 or seq in self._acked:
            return None
        with open(self._path, "rb") as f:
            return self._read_at(f, self._offs[i])

    # --------------------------------------------------------------- ack

    def ack(self, seq, instance_id):
        """Record the host's ack; True if ``seq`` was pending with that instance id."""
        i = self._find(seq)
        if i < 0 or seq in self._acked:
            return False
        if isinstance(instance_id, str):
            instance_id = instance_id.encode()
        with open(self._path, "rb") as f:
            payload = self._read_at(f, self._offs[i])
        if payload is None or instance_id_of(payload) != instance_id:
            return False
        seq_b = str(seq).encode()
        self._acks.write(seq_b + b" " + instance_id + b" " + (_HEX8 % _crc(seq_b, instance_id)).encode() + b"\n")
        self._acks.flush()
        self._acked.add(seq)
        return True

    def acked_in_file(self):
        """Acked records still taking space until the next compact()."""
        return len(self._acked)

    # ----------------------------------------------------------- compact

    def _write_replace(self, path, data_iter):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            for chunk in data_iter:
                f.write(chunk)
            f.flush()
        os.rename(tmp, path)

    def compact(self):
        """Rewrite the log without acknowledged (or damaged) lines; reset acks."""
        self._log.close()
        self._acks.close()
        self._write_replace(self._hwm_path, (str(self._hwm).encode(),))
        seqs = array("L")
        offs = array("L")
        tmp = self._path + ".tmp"
        end = 0
        with open(self._path, "rb") as src, open(tmp, "wb") as dst:
            for i in range(len(self._seqs)):
                if self._seqs[i] in self._acked:
                    continue
                src.seek(self._offs[i])
                line = src.readline()
                if _parse_line(line) is None:
                    continue
                dst.write(line)
                seqs.append(self._seqs[i])
                offs.append(end)
                end += len(line)
            dst.flush()
        os.rename(tmp, self._path)
        self._write_replace(self._acks_path, ())
        self._seqs = seqs
        self._offs = offs
        self._acked = set()
        self._log_end = end
        self.dropped = 0
        self._log = open(self._path, "ab")
        self._acks = open(self._acks_path, "ab")
