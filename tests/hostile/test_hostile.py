#!/usr/bin/python3
"""
test_hostile.py NFSENSORD READCOUNT CASE

Hostile capture files: each CASE writes one kind of bad file and checks that nfsensord gives
either a clean error (exit 1, one message naming the file, every flow before the damage still
exported) or reads on and counts what it skipped (exit 0; the counters come from READCOUNT,
which runs the same capture -> pipeline path and prints them). Never a crash, a sanitizer
report or a hang (every run has a time limit). meson registers one test per case; CASE "all"
runs every case. Exit 0 pass, 1 fail.
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import pcapgen  # noqa: E402

T0 = 1700000000
TIME_LIMIT_S = 30
MAX_CAPLEN = 262144  # lib/capture.c: libpcap's bound on a record


def udp_frame(i, payload=b"x" * 18, dport=53):
    """An Ethernet/IPv4/UDP frame of flow i (source port 10000 + i)."""
    src = pcapgen.ipaddress.ip_address("10.1.0.1")
    dst = pcapgen.ipaddress.ip_address("10.2.0.1")
    l4, _ = pcapgen.build_l4(17, src, dst, 10000 + i, dport, 0, payload)
    ip = pcapgen.build_ip(src, dst, 17, l4)
    return pcapgen.frame_for(1, ip, "02:00:00:00:00:01", "02:00:00:00:00:02", ())


def pcap_header(linktype=1, snaplen=65535):
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)


def record(i, data, caplen=None, wire_len=None):
    caplen = len(data) if caplen is None else caplen
    wire_len = len(data) if wire_len is None else wire_len
    return struct.pack("<IIII", T0 + i, 0, caplen, wire_len) + data


def good_records(n, start=0):
    return b"".join(record(start + i, udp_frame(start + i)) for i in range(n))


def block(btype, body, length=None):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body) if length is None else length
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def pcapng(blocks, linktype=1, snaplen=65535):
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = block(1, struct.pack("<HHI", linktype, 0, snaplen))
    return shb + idb + b"".join(blocks)


def epb(i, data, caplen=None, wire_len=None):
    ts = (T0 + i) * 1000000
    caplen = len(data) if caplen is None else caplen
    wire_len = len(data) if wire_len is None else wire_len
    return block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, caplen, wire_len) + data)


class Check:
    def __init__(self, name):
        self.name, self.failures = name, 0

    def expect(self, cond, what):
        print("%s %s: %s" % ("ok  " if cond else "FAIL", self.name, what))
        if not cond:
            self.failures += 1
        return cond


class Runner:
    def __init__(self, daemon, readcount, tmp):
        self.daemon, self.readcount, self.tmp = daemon, readcount, tmp

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def run(self, args):
        try:
            p = subprocess.run(args, capture_output=True, timeout=TIME_LIMIT_S)
        except subprocess.TimeoutExpired:
            return None, "", "timed out after %d s" % TIME_LIMIT_S
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def daemon_run(self, path):
        """(exit code, stderr, number of CSV flow rows)."""
        out = os.path.join(self.tmp, "flows.csv")
        if os.path.exists(out):
            os.unlink(out)
        rc, _, err = self.run([self.daemon, "--read", path, "--csv", out])
        rows = 0
        if os.path.exists(out):
            with open(out) as f:
                rows = max(0, len(f.read().splitlines()) - 1)
        return rc, err, rows

    def counts(self, path):
        rc, out, err = self.run([self.readcount, path])
        counters = {}
        error = None
        for line in out.splitlines():
            if line.startswith("error: "):
                error = line[7:]
            elif " " in line:
                k, v = line.split(" ", 1)
                counters[k] = int(v)
        return rc, counters, error, err


def sane(ck, err):
    """No sanitizer or crash report in stderr."""
    bad = [m for m in ("AddressSanitizer", "runtime error", "LeakSanitizer", "Segmentation")
           if m in err]
    return ck.expect(not bad, "no crash or sanitizer report %s" % (bad or ""))


def clean_error(ck, r, path, flows_before=None):
    rc, err, rows = r.daemon_run(path)
    ck.expect(rc == 1, "nfsensord exits 1 (got %s)" % rc)
    lines = [line for line in err.splitlines() if line.strip()]
    ck.expect(any(path in line for line in lines), "the message names the file: %r" % err[:300])
    sane(ck, err)
    if flows_before is not None:
        ck.expect(rows == flows_before, "the %d flows before the damage are exported (got %d)"
                  % (flows_before, rows))
    rc, counters, error, err = r.counts(path)
    ck.expect(rc == 1 and error is not None and path in error,
              "the reader reports the file as corrupt (%s)" % error)
    sane(ck, err)
    return counters


def counted(ck, r, path):
    """Reads on: exit 0; returns the counters."""
    rc, err, rows = r.daemon_run(path)
    ck.expect(rc == 0, "nfsensord exits 0 (got %s: %s)" % (rc, err.strip()[:200]))
    sane(ck, err)
    rc, counters, error, err = r.counts(path)
    ck.expect(rc == 0, "the reader reads to the end (%s)" % error)
    sane(ck, err)
    return counters, rows


# ---- cases: each writes its file(s) and checks ----

def case_truncated_record(ck, r):
    """A pcap cut in the middle of its 6th record: 5 flows, then a clean error."""
    data = pcap_header() + good_records(5) + record(5, udp_frame(5))[:30]
    c = clean_error(ck, r, r.write("truncated.pcap", data), flows_before=5)
    ck.expect(c.get("capture.packets") == 5, "5 packets read (%s)" % c.get("capture.packets"))


def case_truncated_header(ck, r):
    """A pcap file of 10 bytes: not even a file header."""
    clean_error(ck, r, r.write("short-header.pcap", pcap_header()[:10]))


def case_empty_file(ck, r):
    clean_error(ck, r, r.write("empty.pcap", b""))


def case_header_only(ck, r):
    c, rows = counted(ck, r, r.write("header-only.pcap", pcap_header()))
    ck.expect(rows == 0 and c.get("capture.packets", 0) == 0, "no packet, no flow")


def case_absurd_caplen(ck, r):
    """caplen 0xFFFFFFFF after 3 good records, small file."""
    data = pcap_header() + good_records(3) + record(3, b"\0" * 64, caplen=0xFFFFFFFF)
    clean_error(ck, r, r.write("absurd-caplen.pcap", data), flows_before=3)


def case_absurd_caplen_big_file(ck, r):
    """The same in a file above the reader's 1 MiB chunk: this used to loop forever."""
    data = (pcap_header() + good_records(3) + record(3, b"", caplen=0x7FFFFFFF) +
            b"\0" * (3 << 20))
    clean_error(ck, r, r.write("absurd-caplen-big.pcap", data), flows_before=3)


def case_caplen_over_limit(ck, r):
    """caplen one above libpcap's 262144 with every byte present: refused, not read."""
    data = (pcap_header(snaplen=MAX_CAPLEN) + good_records(2) +
            record(2, b"\0" * (MAX_CAPLEN + 1)) + good_records(1, start=3))
    clean_error(ck, r, r.write("caplen-over.pcap", data), flows_before=2)


def case_huge_packets(ck, r):
    """caplen exactly 262144, and a wire length of 4 GiB - 1: read, decoded, counted."""
    big = udp_frame(0, payload=b"y" * 1400)
    big += b"\0" * (MAX_CAPLEN - len(big))
    data = (pcap_header(snaplen=MAX_CAPLEN) + record(0, big) +
            record(1, udp_frame(1), wire_len=0xFFFFFFFF) + good_records(1, start=2))
    c, rows = counted(ck, r, r.write("huge.pcap", data))
    ck.expect(c.get("decode.processed") == 3, "all 3 packets metered (%s)" % c)
    ck.expect(c.get("capture.bytes") == MAX_CAPLEN + 0xFFFFFFFF + len(udp_frame(2)),
              "the wire lengths are counted in full (%s)" % c.get("capture.bytes"))
    ck.expect(rows == 3, "3 flows exported (got %d)" % rows)


def case_zero_length(ck, r):
    """Records with caplen 0 (and len 0) between good ones: skipped and counted."""
    data = pcap_header() + good_records(2)
    data += record(2, b"") + record(3, b"", wire_len=1500) + good_records(2, start=4)
    c, rows = counted(ck, r, r.write("zero-length.pcap", data))
    ck.expect(c.get("capture.packets") == 6, "6 packets read (%s)" % c.get("capture.packets"))
    ck.expect(c.get("decode.link.truncated") == 2, "2 counted as decode.link.truncated (%s)" % c)
    ck.expect(c.get("decode.processed") == 4 and rows == 4, "4 metered, 4 flows (%d)" % rows)


def case_caplen_above_len(ck, r):
    """caplen larger than the wire length (impossible, seen in the wild): read, no crash."""
    data = pcap_header() + record(0, udp_frame(0), wire_len=20) + good_records(1, start=1)
    c, rows = counted(ck, r, r.write("caplen-above-len.pcap", data))
    ck.expect(c.get("capture.packets") == 2, "2 packets read")


def case_unknown_linktype(ck, r):
    """A link type nfsensor does not decode (147, USER0): every packet counted, none metered."""
    data = pcap_header(linktype=147) + good_records(4)
    c, rows = counted(ck, r, r.write("linktype-147.pcap", data))
    ck.expect(c.get("decode.link.unsupported") == 4 and rows == 0,
              "4 counted as decode.link.unsupported, no flow (%s)" % c)


def case_pcapng_unknown_blocks(ck, r):
    """pcapng with unknown, custom, statistics and name-resolution blocks between packets:
    they are skipped and the packets give the same flows as the classic file."""
    frames = [udp_frame(i) for i in range(4)]
    blocks = [epb(0, frames[0]), block(0x0BADCAFE, b"not a block anyone knows"),
              epb(1, frames[1]), block(0x00000BAD, struct.pack("<I", 32473) + b"custom"),
              block(5, struct.pack("<III", 0, 0, 0)), block(4, struct.pack("<HH", 0, 0)),
              block(0x40000BAD, b""), epb(2, frames[2]), epb(3, frames[3])]
    c, rows = counted(ck, r, r.write("unknown-blocks.pcapng", pcapng(blocks)))
    ck.expect(c.get("capture.packets") == 4 and c.get("decode.processed") == 4,
              "4 packets read and metered (%s)" % c)
    ck.expect(rows == 4, "4 flows, as from the classic file (got %d)" % rows)


def case_pcapng_bad_block_length(ck, r):
    """A block whose length is below the minimum, and one longer than the file."""
    good = [epb(i, udp_frame(i)) for i in range(2)]
    short = struct.pack("<II", 0x0BADCAFE, 8) + struct.pack("<I", 8)
    clean_error(ck, r, r.write("short-block.pcapng", pcapng(good + [short])), flows_before=2)
    long_ = struct.pack("<II", 6, 0x7FFFFFF0) + b"\0" * 40
    clean_error(ck, r, r.write("long-block.pcapng", pcapng(good + [long_])), flows_before=2)


def case_pcapng_huge_packet(ck, r):
    """An enhanced packet block claiming caplen 300000 (above the interface's snaplen and
    libpcap's bound), then one claiming more bytes than its block holds."""
    good = [epb(i, udp_frame(i)) for i in range(2)]
    huge = epb(2, b"\0" * 300000)
    clean_error(ck, r, r.write("huge.pcapng", pcapng(good + [huge])), flows_before=2)
    lying = epb(2, udp_frame(2), caplen=5000)
    clean_error(ck, r, r.write("lying.pcapng", pcapng(good + [lying])), flows_before=2)


def case_pcapng_zero_length(ck, r):
    blocks = [epb(0, udp_frame(0)), epb(1, b""), epb(2, udp_frame(2))]
    c, rows = counted(ck, r, r.write("zero.pcapng", pcapng(blocks)))
    ck.expect(c.get("decode.link.truncated") == 1 and rows == 2,
              "the empty packet counted as decode.link.truncated, 2 flows (%s)" % c)


def case_not_a_capture(ck, r):
    """Text, a directory and a missing file: each a clean error naming it."""
    clean_error(ck, r, r.write("text.pcap", b"this is not a capture file\n" * 10))
    d = os.path.join(r.tmp, "a-directory.pcap")
    os.mkdir(d)
    clean_error(ck, r, d)
    clean_error(ck, r, os.path.join(r.tmp, "missing.pcap"))


def varied_records(n):
    """n records of 40 flows with payloads of 0..1450 bytes (so records straddle any window or
    chunk boundary), 10 us apart: (pcap bytes, total wire bytes)."""
    frames = [udp_frame(i, payload=b"v" * (i * 37 % 1451)) for i in range(40)]
    recs = [struct.pack("<IIII", T0 + i // 100000, i % 100000 * 10, len(frames[i % 40]),
                        len(frames[i % 40])) + frames[i % 40] for i in range(n)]
    return pcap_header() + b"".join(recs), sum(len(frames[i % 40]) for i in range(n))


def case_big_file(ck, r):
    """A 24 MiB file, more than two of the reader's mapped windows (8 MiB) and many of its read
    chunks (1 MiB): every record read once, from the file and from a pipe alike."""
    n = 34000
    data, wire = varied_records(n)
    path = r.write("big.pcap", data)
    c, rows = counted(ck, r, path)
    ck.expect(c.get("capture.packets") == n and c.get("capture.bytes") == wire,
              "%d packets and %d bytes read (%s)" % (n, wire, c))
    ck.expect(rows == 40, "40 flows exported (got %d)" % rows)
    with open(path, "rb") as f:
        p = subprocess.run([r.readcount, "/dev/stdin"], stdin=f, capture_output=True,
                           timeout=TIME_LIMIT_S)
    piped = dict(line.split(" ", 1) for line in p.stdout.decode().splitlines())
    ck.expect(p.returncode == 0 and int(piped.get("capture.packets", 0)) == n and
              int(piped.get("capture.bytes", 0)) == wire,
              "the same %d packets through a pipe (%s)" % (n, piped))
    sane(ck, p.stderr.decode(errors="replace"))


def case_cut_while_read(ck, r):
    """The file is cut to 64 KiB by another program after the first batch, inside the window
    the reader has mapped: a clean error naming the file, never SIGBUS."""
    path = r.write("cut.pcap", varied_records(34000)[0])
    rc, out, err = r.run([r.readcount, "--cut-after-first-batch", "65536", path])
    ck.expect(rc == 1, "the reader exits 1 (got %s)" % rc)
    ck.expect("cut while being read" in out and path in out,
              "it reports the file as cut (%s)" % out.strip().splitlines()[-1:])
    sane(ck, err)


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}


def main():
    if len(sys.argv) != 4 or (sys.argv[3] not in CASES and sys.argv[3] != "all"):
        print("usage: test_hostile.py NFSENSORD READCOUNT CASE|all\ncases: %s"
              % " ".join(CASES))
        return 64
    daemon, readcount, which = sys.argv[1:4]
    failures = 0
    for name, fn in CASES.items():
        if which not in (name, "all"):
            continue
        with tempfile.TemporaryDirectory(prefix="nfs-hostile-") as tmp:
            ck = Check(name)
            fn(ck, Runner(daemon, readcount, tmp))
            failures += ck.failures
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
