# tiesense firmware: records encoded and signed in buffers taken at boot.
#
# A handheld's record is up to 4 KB. Built the plain way (wire.sign_record),
# it needs three blocks of its size at the end of an interview (the JSON text,
# its bytes, the signed copy), when the heap is most broken up: with 128 KiB
# beside the firmware's code, a 10-partner interview found 45 KB free and no
# block of 1.7 KB. A Signer takes its two buffers once, at boot, while the heap
# is whole: json writes the record into a BytesIO made with that capacity, its
# bytes are read into the output buffer and signed there (wire.sign hashes a
# view, no copy), and the signature closes it. sign() returns a view of the
# output buffer, valid until the next call: the log writes it at once. The
# bytes are wire.sign_record's; a record json cannot write canonically (a dict
# in it) goes the plain way.
import io
import json

import wire


class Signer:
    def __init__(self, device, key, size):
        self.device = device
        self.key = key
        self._json = io.BytesIO(size)  # capacity taken now; written from the start for each record
        self._out = bytearray(size + 48)  # the JSON, then ,"<43-character signature>"]
        self._mv = memoryview(self._out)

    def sign(self, rec, seq):
        """``rec`` with ``seq``, signed: its version 2 bytes (a view of the output buffer)."""
        rec[0] = seq
        body = rec[:10]
        if not wire._plain(body):
            return wire.sign_record(rec, seq, self.device, self.key)
        j = self._json
        j.seek(0)
        json.dump(body, j, separators=(",", ":"))
        n = j.tell()
        if n + 47 > len(self._out):  # too big for the buffer: the log refuses it by its size
            return wire.sign_record(rec, seq, self.device, self.key)
        mv = self._mv
        j.seek(0)
        j.readinto(mv[:n])
        sig = wire.sign(self.key, wire.SIGN_RECORD, self.device, mv[:n]).encode() if self.key else b""
        return mv[:wire.seal_record(mv, n, sig)]
