"""
ipfixwire.py: a small, fast IPFIX stream reader for the export tests (not a test itself).

python3-ipfix decodes a few thousand records a second; the outage and rotation tests read
tens of thousands, and must also cope with a stream cut in the middle of a message (a
collector killed mid-read), which they simply stop at. This reader knows only what those tests
need: message and set framing, template and options template records, data records split by
their templates (fixed and variable length fields), and a few element values by (pen, id).
"""

import struct

FLOW_ID = (0, 148)
SRC4, SRC6, SPORT = (0, 8), (0, 27), (0, 7)
END_REASON = (0, 136)
NOT_SENT_FLOWS = (0, 166)
EXPORTED_FLOWS = (0, 42)


class Stream:
    def __init__(self):
        self.templates = {}  # (domain, tid) -> [(pen, id, length)]
        self.messages = 0
        self.truncated = 0  # bytes of an incomplete last message
        self.sequence_errors = 0
        self.expect_seq = {}

    def feed(self, data, on_record):
        """Calls on_record(tid, fields) for every data record, fields {(pen, id): bytes}."""
        off = 0
        while off + 16 <= len(data):
            ver, length, _, seq, domain = struct.unpack_from("!HHIII", data, off)
            if ver != 10 or length < 16:
                raise ValueError("not an IPFIX message at offset %d" % off)
            if off + length > len(data):
                break
            want = self.expect_seq.get(domain)
            if want is not None and want != seq:
                self.sequence_errors += 1
            records = self._message(data, off + 16, off + length, domain, on_record)
            self.expect_seq[domain] = (seq + records) & 0xFFFFFFFF
            self.messages += 1
            off += length
        self.truncated = len(data) - off

    def _message(self, data, p, end, domain, on_record):
        records = 0
        while p + 4 <= end:
            sid, slen = struct.unpack_from("!HH", data, p)
            if slen < 4:
                raise ValueError("bad set length")
            q, send = p + 4, p + slen
            if sid in (2, 3):
                while q + 4 <= send:
                    tid, n = struct.unpack_from("!HH", data, q)
                    q += 6 if sid == 3 else 4
                    fields = []
                    for _ in range(n):
                        fid, flen = struct.unpack_from("!HH", data, q)
                        q += 4
                        pen = 0
                        if fid & 0x8000:
                            pen = struct.unpack_from("!I", data, q)[0]
                            q += 4
                            fid &= 0x7FFF
                        fields.append((pen, fid, flen))
                    self.templates[(domain, tid)] = fields
            elif sid >= 256:
                t = self.templates.get((domain, sid))
                if t is None:
                    raise ValueError("data set %d without template" % sid)
                while q < send:
                    rec = {}
                    for pen, fid, flen in t:
                        if flen == 0xFFFF:
                            flen = data[q]
                            q += 1
                            if flen == 255:
                                flen = struct.unpack_from("!H", data, q)[0]
                                q += 2
                        rec[(pen, fid)] = data[q:q + flen]
                        q += flen
                    records += 1
                    on_record(sid, rec)
            p = send
        return records


def uint(b):
    return int.from_bytes(b, "big") if b is not None else None


def read_stream(path_or_bytes):
    """(flow records, options records, stream) of an RFC 5655 file or TCP capture."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        data = path_or_bytes
    else:
        with open(path_or_bytes, "rb") as f:
            data = f.read()
    flows, options = [], []
    s = Stream()

    def on(tid, rec):
        (flows if END_REASON in rec else options).append(rec)
    s.feed(data, on)
    return flows, options, s


def flow_key(rec):
    """(source address bytes, source port): unique per record in the tests' captures."""
    return (bytes(rec.get(SRC4) or rec.get(SRC6) or b""), uint(rec.get(SPORT)))
