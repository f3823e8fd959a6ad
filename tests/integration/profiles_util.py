"""
profiles_util.py: helpers of the collector profile tests (test_profile_*.py), not a test itself.

Receivers: nfcapd (started, stopped with SIGTERM, read back with `nfdump -o json`) and a raw UDP
catcher that keeps every datagram, writes them into a pcap for tshark (synthetic IPv4/UDP
headers on a raw-IP link) and lets a test search the exported bytes themselves. Flows: the CSV
sink's rows, and the uniflow records they imply (one per direction that has packets).
"""
import csv
import datetime
import json
import os
import socket
import struct
import subprocess
import time
import xml.etree.ElementTree as ET

import nfstest as T

CAPTURES = ("corpus/1kxun.pcap", "corpus/http_ipv6.pcap")  # real ones, when ../shared has them


def real_captures():
    base = os.path.join(T.source_dir(), "..", "shared", "pcaps")
    return [os.path.join(base, c) for c in CAPTURES if os.path.exists(os.path.join(base, c))]


def captures(tmp, limit=1, **kw):
    """(tag, pcap) pairs: pcapgen's capture (T.generate's kw) into tmp, then at most limit of
    the real captures present."""
    pcaps, _ = T.generate(tmp, **kw)
    return [("generated", pcaps[0])] + [(os.path.basename(p).split(".")[0], p)
                                        for p in real_captures()[:limit]]


class Nfcapd:
    """nfcapd on 127.0.0.1:PORT writing into DIR/spool."""

    def __init__(self, ck, tmp, name):
        self.ck, self.name = ck, name
        self.spool = os.path.join(tmp, "spool-" + name)
        os.makedirs(self.spool)
        self.port = T.free_udp_port()
        self.log = open(os.path.join(tmp, "nfcapd-%s.log" % name), "w+")
        self.p = subprocess.Popen([T.need_tool("nfcapd"), "-b", "127.0.0.1", "-p", str(self.port),
                                   "-w", self.spool, "-t", "3600"], stdout=self.log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        ok = False
        for _ in range(50):
            time.sleep(0.1)
            self.log.seek(0)
            if "Startup" in self.log.read() or self.p.poll() is not None:
                ok = self.p.poll() is None
                break
        ck.check("%s: nfcapd listening on 127.0.0.1:%d" % (name, self.port), ok)

    def records(self):
        """Stops nfcapd and returns nfdump's flows (dicts of nfdump's JSON)."""
        time.sleep(1.0)  # the last datagrams off the socket
        rc = T.stop(self.p)
        self.log.seek(0)
        text = self.log.read()
        self.ck.check("%s: nfcapd stops cleanly" % self.name, rc == 0, T.tail(text))
        seq = [x.strip() for x in text.splitlines() if "Sequence Errors" in x]
        self.ck.check("%s: nfcapd saw no sequence errors" % self.name,
                      bool(seq) and all("Sequence Errors: 0," in x for x in seq),
                      "; ".join(seq) or "no statistics line")
        d = T.run([T.need_tool("nfdump"), "-R", self.spool, "-o", "json"], timeout=120)
        self.ck.check("%s: nfdump reads the spool" % self.name, d.returncode == 0,
                      T.tail(d.stderr))
        text = d.stdout.decode("utf-8", "replace").strip()
        return json.loads(text) if text.startswith("[") else []


def run_daemon(ck, daemon, tmp, name, pcap, yaml, output=""):
    """Writes TMP/NAME.yaml (yaml, then output: with csv: TMP/NAME.csv and `output` lines),
    runs nfsensord on pcap with it, checks it exits 0; returns the CSV's path."""
    conf = os.path.join(tmp, name + ".yaml")
    csv_path = os.path.join(tmp, name + ".csv")
    with open(conf, "w") as f:
        f.write("%soutput:\n  csv: %s\n%s" % (yaml, csv_path, output))
    r = T.run([daemon, "--config", conf, "--read", pcap], timeout=300)
    ck.check("%s: nfsensord exits 0" % name, r.returncode == 0, T.tail(r.stderr))
    return csv_path


def nfdump_ms(s):
    """nfdump's local time "2023-11-14T22:13:20.123" as ms since the epoch."""
    dt = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f")
    return int(round(time.mktime(dt.timetuple()) * 1000)) + dt.microsecond // 1000


def nfdump_flow(r):
    src = r.get("src4_addr") or r.get("src6_addr")
    dst = r.get("dst4_addr") or r.get("dst6_addr")
    # ICMP records come with icmp_type/icmp_code instead of ports (nfsensord sends ports 0)
    return {"src_ip": T._ip(src), "dst_ip": T._ip(dst), "src_port": int(r.get("src_port", 0)),
            "dst_port": int(r.get("dst_port", 0)), "protocol": int(r["proto"]),
            "packets": int(r["in_packets"]), "bytes": int(r["in_bytes"]),
            # biflow records: the reverse counters (uniflow ones have none)
            "out_packets": int(r.get("out_packets", 0)), "out_bytes": int(r.get("out_bytes", 0)),
            "start": nfdump_ms(r["first"]), "end": nfdump_ms(r["last"]),
            "direction": int(r.get("direction", -1))}


class UdpCatcher(T.UdpReceiver):
    """Keeps every datagram sent to 127.0.0.1:port (self.payloads)."""

    def __init__(self):
        super().__init__()
        self.payloads = []
        self.start()

    def take(self, data):
        self.payloads.append(data)

    def write_pcap(self, path):
        """The datagrams as IPv4/UDP packets to this port on a raw-IP link (DLT_RAW)."""
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
            for i, d in enumerate(self.payloads):
                udp = struct.pack("!HHHH", 40000, self.port, 8 + len(d), 0) + d
                ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17,
                                 0, socket.inet_aton("127.0.0.1"),
                                 socket.inet_aton("127.0.0.1")) + udp
                f.write(struct.pack("<IIII", 1700000000 + i // 1000, (i % 1000) * 1000, len(ip),
                                    len(ip)) + ip)


def tshark_v9_records(pdml_text):
    """Flow records of tshark's NetFlow v9 decoding (PDML)."""
    flows = []
    names = {"cflow.srcaddr": "src_ip", "cflow.srcaddrv6": "src_ip", "cflow.dstaddr": "dst_ip",
             "cflow.dstaddrv6": "dst_ip", "cflow.srcport": "src_port",
             "cflow.dstport": "dst_port", "cflow.protocol": "protocol",
             "cflow.packets": "packets", "cflow.octets": "bytes", "cflow.direction": "direction"}
    for el in ET.fromstring(pdml_text).iter("field"):
        if el.get("name") != "" or not (el.get("show") or "").startswith("Flow "):
            continue
        f = {}
        for k in el.iter():
            name, show = k.get("name"), k.get("show")
            if name in names:
                v = show if names[name].endswith("_ip") else int(show, 0)
                f[names[name]] = T._ip(v) if names[name].endswith("_ip") else v
            elif name in ("cflow.abstimestart", "cflow.abstimeend"):
                f["start" if name.endswith("start") else "end"] = int(k.get("value"), 16)
        if "src_ip" in f:
            flows.append(f)
    return flows


def csv_flows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def csv_ip_octets(row, d):
    """IANA's octetDeltaCount of direction d ("src2dst", "dst2src") of a CSV row written with
    accounting ip: the CSV's ip-mode bytes are IPv4's total length but IPv6's payload length
    (NFStream's definition), so an IPv6 packet adds its 40-byte header."""
    header = 40 if int(row["ip_version"]) == 6 else 0
    return int(row[d + "_bytes"]) + header * int(row[d + "_packets"])


def uniflow_records(rows):
    """The records a uniflow collector gets for the CSV's flows (accounting ip): src->dst
    always, dst->src when that direction has packets (swapped endpoints, its own counters and
    times); bytes are IANA's octets (csv_ip_octets)."""
    out = []
    for r in rows:
        proto = int(r["protocol"])
        for d, (sa, sp, da, dp) in (("src2dst", ("src_ip", "src_port", "dst_ip", "dst_port")),
                                    ("dst2src", ("dst_ip", "dst_port", "src_ip", "src_port"))):
            if int(r[d + "_packets"]) == 0:
                continue
            out.append({"src_ip": T._ip(r[sa]), "src_port": int(r[sp]), "dst_ip": T._ip(r[da]),
                        "dst_port": int(r[dp]), "protocol": proto,
                        "packets": int(r[d + "_packets"]),
                        "bytes": csv_ip_octets(r, d),
                        "start": int(r[d + "_first_seen_ms"]),
                        "end": int(r[d + "_last_seen_ms"]),
                        "direction": 0 if d == "src2dst" else 1})
    return out


def totals_by_key(records):
    """(src, sport, dst, dport, proto) -> [packets, bytes], summed."""
    t = {}
    for r in records:
        k = (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["protocol"])
        v = t.setdefault(k, [0, 0])
        v[0] += r["packets"]
        v[1] += r["bytes"]
    return t


def compare_totals(ck, label, expected, observed):
    """Per key and direction: packets and bytes equal; prints matched/total."""
    e, o = totals_by_key(expected), totals_by_key(observed)
    bad = [(k, e.get(k), o.get(k)) for k in sorted(set(e) | set(o), key=str)
           if e.get(k) != o.get(k)]
    ck.check("%s: packets and bytes per key and direction equal the CSV's (%d/%d keys)" %
             (label, len(e) - len([b for b in bad if b[1] is not None]), len(e)),
             not bad and len(e) > 0, "first differences (key, csv, collector): %s" % bad[:5])


def compare_records(ck, label, expected, observed, fields):
    """Record by record, as multisets of the given fields."""
    def key(r):
        return tuple(r.get(f) for f in fields)
    left = [key(o) for o in observed]
    missing = []
    for e in expected:
        k = key(e)
        if k in left:
            left.remove(k)
        else:
            missing.append(k)
    ck.check("%s: %d/%d records equal the CSV's (%s)" % (label, len(expected) - len(missing),
                                                        len(expected), ", ".join(fields)),
             not missing and not left and len(expected) > 0,
             "missing %s; unexpected %s" % (missing[:3], left[:3]))
