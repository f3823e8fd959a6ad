#!/usr/bin/python3
"""
make_seeds.py: writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Seeds come from the project's own generated captures (tests/tools/pcapgen.py: its scenarios
in every link type it writes), plus frames of the link types and tunnels pcapgen does not
write, a pcapng file with an unknown block, a configuration file and small models of each
kind, each under a name that says what it is. Run this again after pcapgen or an input format
changes:  tests/fuzz/make_seeds.py [OUTDIR]. It rewrites its own files only: the corpus also
holds inputs grown by fuzzing (SHA-1 names, added with libFuzzer's -merge=1; README.md), which
stay.
Input formats are described at the top of each tests/fuzz/fuzz_<target>.c.
"""

import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import pcapgen  # noqa: E402

# The link types nfs_decode_link_supported() accepts, in DLT order (fuzz_decode.c picks by
# index). Unknown values only shift which seed tries which link type.
DLTS = [0, 1, 9, 12, 50, 101, 104, 108, 113, 127, 228, 229, 276]
LINKS = {"null": 0, "en10mb": 1, "raw": 101, "sll": 113}


def put(outdir, target, name, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def ipv4_tcp(sport=40000, dport=443, flags=0x02, payload=b""):
    src, dst = pcapgen.ipaddress.ip_address("10.0.0.1"), pcapgen.ipaddress.ip_address("10.0.0.2")
    l4, _ = pcapgen.build_l4(6, src, dst, sport, dport, flags, payload)
    return pcapgen.build_ip(src, dst, 6, l4)


def ipv4_udp(dport, payload, sport=40000):
    src, dst = pcapgen.ipaddress.ip_address("10.0.0.1"), pcapgen.ipaddress.ip_address("10.0.0.2")
    l4, _ = pcapgen.build_l4(17, src, dst, sport, dport, 0, payload)
    return pcapgen.build_ip(src, dst, 17, l4)


def ipv6_udp(dport, payload):
    src, dst = pcapgen.ipaddress.ip_address("2001:db8::1"), pcapgen.ipaddress.ip_address("2001:db8::2")
    l4, _ = pcapgen.build_l4(17, src, dst, 40000, dport, 0, payload)
    return pcapgen.build_ip(src, dst, 17, l4)


def eth(ip, ethertype=0x0800, tags=b""):
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01" + tags + struct.pack("!H", ethertype) + ip


def extra_frames():
    """(dlt, frame) pairs for link types and encapsulations pcapgen does not write."""
    ip = ipv4_tcp(payload=b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
    ip6 = ipv6_udp(53, b"\x12\x34\x01\x00\x00\x01" + b"\0" * 6 + b"\x07example\x03com\x00\0\1\0\1")
    inner = eth(ipv4_udp(53, b"\0" * 20))
    out = [
        (9, b"\x00\x21" + ip),                       # PPP, IPv4
        (50, b"\xff\x03\x00\x21" + ip),              # PPP serial
        (104, b"\x0f\x00\x08\x00" + ip),             # Cisco HDLC
        (108, struct.pack("!I", 2) + ip),            # LOOP
        (228, ip), (229, ip6), (12, ip), (12, ip6),  # IPV4, IPV6, RAW
        (276, struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 0, 6, b"\x02\0\0\0\0\x01\0\0") + ip),
        (1, eth(ip, 0x8100, b"")[:12] + struct.pack("!HH", 0x88a8, 10) +
         struct.pack("!HH", 0x8100, 20) + b"\x08\x00" + ip),            # QinQ
        (1, eth(struct.pack("!I", (16 << 12) | 0x100 | 64) + ip, 0x8847)),  # MPLS
        (1, eth(struct.pack("!BBHH", 0x11, 0, 1, len(ip) + 2) + b"\x00\x21" + ip, 0x8864)),  # PPPoE
        (1, eth(b"\xaa\xaa\x03\0\0\0\x08\x00" + ip, len(ip) + 8)),     # LLC/SNAP
        (1, eth(b"\x42\x42\x03" + b"\0" * 40, 43)),                   # STP
        (1, eth(ipv4_udp(2152, struct.pack("!BBHI", 0x30, 0xff, len(ip), 1) + ip))),  # GTP-U
        (1, eth(ipv4_udp(4789, b"\x08\0\0\0\0\0\x01\0" + inner))),    # VXLAN
        (1, eth(ipv4_udp(6081, b"\x00\x00\x65\x58\0\0\x01\0" + inner))),  # Geneve
        (1, eth(ipv4_udp(6635, struct.pack("!I", (16 << 12) | 0x100 | 64) + ip))),  # MPLS/UDP
        (1, eth(ipv4_udp(37008, b"\x01\x00\x00\x01\x01" + inner))),   # TZSP
        (1, eth(ipv4_udp(5247, b"\x00\x10\x03\x10" + b"\0" * 4 +
                         b"\x08\x01\0\0" + b"\x02\0\0\0\0\x01" * 3 + b"\0\0" +
                         b"\xaa\xaa\x03\0\0\0\x08\x00" + ip))),      # CAPWAP
    ]
    src, dst = pcapgen.ipaddress.ip_address("10.0.0.1"), pcapgen.ipaddress.ip_address("10.0.0.3")
    out.append((1, eth(pcapgen.build_ip(src, dst, 47, b"\x00\x00\x08\x00" + ip))))  # GRE
    out.append((1, eth(pcapgen.build_ip(src, dst, 47, b"\x10\x00\x88\xbe\0\0\0\1" +
                                        b"\x10\0\0\x01\0\0\0\0" + inner))))    # ERSPAN II
    out.append((1, eth(pcapgen.build_ip(src, dst, 4, ip))))                      # IP in IP
    out.append((1, eth(b"\x60\0\0\0" + struct.pack("!HBB", 8 + len(ip), 44, 64) + b"\0" * 32 +
                       b"\x04\0\0\x01\0\0\0\0" + ip, 0x86dd)))                   # IPv6 fragment
    radiotap = struct.pack("<BBHI", 0, 0, 8, 0)
    wifi = b"\x08\x01\0\0" + b"\x02\0\0\0\0\x01" * 3 + b"\0\0"
    out.append((127, radiotap + wifi + b"\xaa\xaa\x03\0\0\0\x08\x00" + ip))       # radiotap
    return out


def captures():
    """(link name, packets) of pcapgen's scenarios, the skeleton and the extra ones."""
    out = []
    for link, lt in LINKS.items():
        pkts, _ = pcapgen.build_capture(linktype=lt)
        out.append((link, lt, pkts))
    pkts, _ = pcapgen.build_capture(linktype=1, only=["evict"])
    out.append(("evict", 1, pkts))
    return out


def pcap_file(lt, pkts, magic=0xA1B2C3D4, endian="<", nanos=False, snaplen=65535):
    data = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, lt)
    for p in pkts:
        sub = p.usec * 1000 if nanos else p.usec
        data += struct.pack(endian + "IIII", p.sec, sub, len(p.data), p.wire_len) + p.data
    return data


def pcapng_block(btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def pcapng_file(lt, pkts, unknown=True):
    data = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    data += pcapng_block(1, struct.pack("<HHI", lt, 0, 65535))
    if unknown:
        data += pcapng_block(0x0BADCAFE, b"unknown block, to be skipped")
    for p in pkts:
        ts = p.sec * 1000000 + p.usec
        data += pcapng_block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(p.data),
                                            p.wire_len) + p.data)
    return data


def pipeline_input(preset, frames):
    """fuzz_pipeline.c's format: preset byte, then [flags+link][step][len lo][len hi][frame]."""
    data = bytes([preset])
    last_ms = None
    for i, (dlt, t_ms, frame) in enumerate(frames):
        step = 0 if last_ms is None else min(255, max(0, (t_ms - last_ms) // 50))
        last_ms = t_ms
        link = DLTS.index(dlt) if dlt in DLTS else 0
        flags = link | (0x40 if i % 7 == 6 else 0)
        data += bytes([flags, step]) + struct.pack("<H", len(frame)) + frame
    return data


CONFIG = b"""# nfsensor configuration (fuzz seed)
profile: default
ipfix:
  enterprise_number: 32473
  observation_domain: 7
  template_refresh: 10m
  rfc5610: true
flows:
  idle_timeout: 120s
  active_timeout: 30m
  accounting: payload
  max_flows: 100000
dpi:
  enabled: true
  decode_tunnels: false
interfaces:
  - name: eth0
    bpf: "tcp or udp"
    promiscuous: false
    snaplen: 1600
    workers: 2
inputs: [a.pcap, "b c.pcapng"]
plugins:
  - ml_tree_placeholder
collectors:
  - address: "127.0.0.1:4739"
    transport: tcp
  - address: "[::1]:4739"
  - file: flows.ipfix
output:
  csv: "-"
log:
  level: debug
"""


def model_text(kind, features, classes, trees, extra=""):
    def nums(v):
        return ", ".join(repr(float(x)) for x in v)
    lines = ["nfsensor_model: 1", "kind: %s" % kind,
             "features: [%s]" % ", ".join('"%s"' % f for f in features),
             "classes: [%s]" % ", ".join('"%s"' % c for c in classes)]
    if extra:
        lines.append(extra.rstrip("\n"))
    lines.append("trees:")
    for t in trees:
        first = "  - "
        if "output" in t:
            lines.append("  - output: %d" % t["output"])
            first = "    "
        lines.append(first + "feature: [%s]" % ", ".join(map(str, t["feature"])))
        lines.append("    threshold: [%s]" % nums(t["threshold"]))
        lines.append("    left: [%s]" % ", ".join(map(str, t["left"])))
        lines.append("    right: [%s]" % ", ".join(map(str, t["right"])))
        lines.append("    value: [%s]" % ", ".join("[%s]" % nums(v) for v in t["value"]))
    return ("\n".join(lines) + "\n").encode()


def tree(feature, threshold, leaves):
    """A root split on feature at threshold with two leaves."""
    return {"feature": [feature, -1, -1], "threshold": [threshold, 0, 0], "left": [1, -1, -1],
            "right": [2, -1, -1], "value": [[], leaves[0], leaves[1]]}


def models():
    feats = ["protocol", "dst_port", "ps_1", "piat_ms_2", "direction_2", "ip_version", "src_port"]
    dt = model_text("decision_tree", feats, ["web", "dns", "other"],
                    [{"feature": [1, 2, -1, -1, -1], "threshold": [53.5, 100.0, 0, 0, 0],
                      "left": [2, 3, -1, -1, -1], "right": [1, 4, -1, -1, -1],
                      "value": [[], [], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]}])
    rf = model_text("random_forest", feats[:3], ["a", "b"],
                    [tree(0, 10.5, [[1.0, 0.0], [0.25, 0.75]]),
                     tree(2, 500.0, [[0.5, 0.5], [0.0, 1.0]])])
    gb2 = model_text("gradient_boosting", feats[:4], ["no", "yes"],
                     [tree(3, 12.5, [[-1.5], [2.0]]), tree(1, 443.5, [[0.25], [-0.75]])],
                     "learning_rate: 0.1\ninit: [-0.2]\nlink: logistic")
    gbe = gb2.replace(b"link: logistic", b"link: exponential")
    gb3 = model_text("gradient_boosting", feats[:2], ["x", "y", "z"],
                     [dict(tree(0, 6.5, [[1.0], [-1.0]]), output=k) for k in range(3)],
                     "learning_rate: 0.5\ninit: [0.1, 0.2, -0.3]\nlink: softmax")
    return {"decision_tree.yaml": dt, "random_forest.yaml": rf, "boosting_logistic.yaml": gb2,
            "boosting_exponential.yaml": gbe, "boosting_softmax.yaml": gb3}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    caps = captures()
    seen = set()
    for link, lt, pkts in caps:
        for p in pkts:
            frame = bytes([DLTS.index(lt), 3]) + p.data
            h = hashlib.sha1(frame).hexdigest()[:12]
            if len(p.data) <= 200 and h not in seen and len(seen) < 60:
                seen.add(h)
                put(outdir, "decode", "%s-%s" % (link, h), frame)
        frames = [(lt, p.t_ms, p.data) for p in pkts]
        for preset in (0, 1, 3, 6):
            put(outdir, "pipeline", "%s-preset%d" % (link, preset),
                pipeline_input(preset, frames[:40]))
    for i, (dlt, frame) in enumerate(extra_frames()):
        put(outdir, "decode", "extra-%02d-dlt%d" % (i, dlt), bytes([DLTS.index(dlt), 3]) + frame)
        put(outdir, "pipeline", "extra-%02d-dlt%d" % (i, dlt),
            pipeline_input(i % 8, [(dlt, 0, frame), (dlt, 100, frame), (dlt, 3000, frame)]))
    link, lt, pkts = caps[0]
    few = pkts[:12]
    put(outdir, "capture", "classic.pcap", pcap_file(lt, few))
    put(outdir, "capture", "classic-be.pcap", pcap_file(lt, few, endian=">"))
    put(outdir, "capture", "classic-ns.pcap", pcap_file(lt, few, magic=0xA1B23C4D, nanos=True))
    put(outdir, "capture", "raw.pcap", pcap_file(101, caps[1][2][:6]))
    put(outdir, "capture", "truncated.pcap", pcap_file(lt, few)[:-20])
    put(outdir, "capture", "empty.pcap", pcap_file(lt, []))
    put(outdir, "capture", "unknown-block.pcapng", pcapng_file(lt, few))
    put(outdir, "capture", "plain.pcapng", pcapng_file(lt, pkts[:4], unknown=False))
    put(outdir, "config", "full.yaml", CONFIG.replace(b"  - ml_tree_placeholder\n", b"  []\n")
        .replace(b"plugins:\n  []", b"plugins: []"))
    put(outdir, "config", "errors.yaml", CONFIG.replace(
        b"  - ml_tree_placeholder", b"  - dpi\n  - {name: ml_tree, model: /nonexistent.yaml, at_packet: 99}")
        .replace(b"accounting: payload", b"accounting_mode: payload\n  idle_timeout: 2 minutes"))
    put(outdir, "config", "nfstream.yaml", b"profile: nfstream\nflows: {max_flows: 10}\n")
    put(outdir, "config", "empty.yaml", b"")
    for name, text in models().items():
        put(outdir, "model", name, text)


if __name__ == "__main__":
    main()
