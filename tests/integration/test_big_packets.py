#!/usr/bin/python3
"""
test_big_packets.py NFSENSORD SOURCE_DIR BIG_PACKETS_SO

The example external plugin (plugins/examples/big_packets.c), enabled purely by YAML
(`plugin_dir` + `plugins: [{name: big_packets, threshold: N}]`), against a direct count:
a small pcap reader here decodes each capture itself and counts, per flow, the packets whose
wire length is at least the threshold. With idle and active timeouts of a year and the
NFStream profile (no TCP end cut), a flow is exactly its key (addresses, ports, protocol,
VLAN), so counts compare per flow. Captures: the generated skeleton (pcapgen.py), and every
shared capture (../shared/pcaps/nfstream) that the reader decodes to the same flows and packet
counts as nfsensord (captures with tunnels or exotic links are left out, and counted).
Then the loader's refusals, each an exit 78 whose message names the file: a group-writable
plugin, an other ABI, another struct size, no entry symbol, a file whose plugin has another
name, an unknown option.
"""
import collections
import ipaddress
import os
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402

YEAR_S = 365 * 86400


# --------------------------------------------------------------------------------------------
# The direct computation: read packets, decode to a flow key, count.


def packets(path):
    """(linktype, wire_len, data) of every packet of a classic pcap or a pcapng file."""
    with open(path, "rb") as fp:
        buf = fp.read()
    magic = buf[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                 b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xd4, 0x4d) else ">"
        linktype = struct.unpack_from(e + "I", buf, 20)[0] & 0x0FFFFFFF
        off = 24
        while off + 16 <= len(buf):
            _, _, caplen, wire = struct.unpack_from(e + "IIII", buf, off)
            if off + 16 + caplen > len(buf):
                return
            yield linktype, wire, buf[off + 16:off + 16 + caplen]
            off += 16 + caplen
        return
    if magic != b"\x0a\x0d\x0d\x0a":
        raise ValueError("not a capture")
    e, off, links = "<", 0, []
    while off + 12 <= len(buf):
        if buf[off:off + 4] == b"\x0a\x0d\x0d\x0a":
            e = "<" if buf[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        btype, blen = struct.unpack_from(e + "II", buf, off)
        if blen < 12 or off + blen > len(buf):
            return
        if btype == 1:
            links.append(struct.unpack_from(e + "H", buf, off + 8)[0])
        elif btype == 6:
            iface, _, _, caplen, wire = struct.unpack_from(e + "IIIII", buf, off + 8)
            yield links[iface], wire, buf[off + 28:off + 28 + caplen]
        elif btype == 3:
            wire = struct.unpack_from(e + "I", buf, off + 8)[0]
            yield links[0], wire, buf[off + 12:off + 12 + min(wire, blen - 16)]
        off += blen


def l3(linktype, d):
    """(ip bytes, vlan) of a frame, or None for what this reader does not decode."""
    vlan = 0
    if linktype == 1:
        if len(d) < 14:
            return None
        etype, off = struct.unpack_from(">H", d, 12)[0], 14
        while etype == 0x8100 and len(d) >= off + 4:
            vlan = struct.unpack_from(">H", d, off)[0] & 0x0FFF
            etype, off = struct.unpack_from(">H", d, off + 2)[0], off + 4
        if etype not in (0x0800, 0x86DD):
            return None
        return d[off:], vlan
    if linktype in (101, 12, 14, 228, 229):
        return d, 0
    if linktype == 0:
        return d[4:], 0
    if linktype == 113:
        if len(d) < 16 or struct.unpack_from(">H", d, 14)[0] not in (0x0800, 0x86DD):
            return None
        return d[16:], 0
    return None


def flow_key(ip, vlan):
    """(endpoints, protocol, vlan) of an IP packet, or None (fragment, not IP, too short)."""
    if len(ip) < 20:
        return None
    version = ip[0] >> 4
    if version == 4:
        ihl = (ip[0] & 15) * 4
        if struct.unpack_from(">H", ip, 6)[0] & 0x1FFF or ihl < 20 or len(ip) < ihl:
            return None
        proto, src, dst, l4 = ip[9], ip[12:16], ip[16:20], ip[ihl:]
        if proto in (4, 41):
            return None  # IP-in-IP: nfsensord meters the inner packet; not modelled here
    elif version == 6:
        if len(ip) < 40:
            return None
        proto, src, dst, l4 = ip[6], ip[8:24], ip[24:40], ip[40:]
        if proto not in (6, 17, 58):
            return None  # extension headers: not modelled here
    else:
        return None
    sport = dport = 0
    if (proto == 6 and len(l4) >= 20) or (proto == 17 and len(l4) >= 8):
        sport, dport = struct.unpack_from(">HH", l4, 0)
    a = (ipaddress.ip_address(bytes(src)), sport)
    b = (ipaddress.ip_address(bytes(dst)), dport)
    return (min(a, b), max(a, b)), proto, vlan


def direct_counts(pcap, threshold):
    """{key: [packets, big packets]}, or None when the reader cannot decode the capture."""
    counts = collections.defaultdict(lambda: [0, 0])
    try:
        for linktype, wire, data in packets(pcap):
            got = l3(linktype, data)
            key = got and flow_key(*got)
            if key is None:
                continue
            counts[key][0] += 1
            counts[key][1] += wire >= threshold
    except (ValueError, struct.error, IndexError):
        return None
    return counts


def csv_counts(rows):
    counts = collections.defaultdict(lambda: [0, 0])
    for r in rows:
        a = (ipaddress.ip_address(r["src_ip"]), int(r["src_port"]))
        b = (ipaddress.ip_address(r["dst_ip"]), int(r["dst_port"]))
        key = ((min(a, b), max(a, b)), int(r["protocol"]), int(r["vlan_id"]))
        counts[key][0] += int(r["bidirectional_packets"])
        counts[key][1] += int(r["udps.big_packets"])
    return counts


# --------------------------------------------------------------------------------------------
# Running nfsensord with the plugin from YAML


def write_config(path, plugin_dir, plugin_line):
    with open(path, "w") as fp:
        fp.write("profile: nfstream\ndpi: {enabled: false}\n")
        fp.write("flows: {idle_timeout: %ds, active_timeout: %ds}\n" % (YEAR_S, YEAR_S))
        if plugin_dir:
            fp.write("plugin_dir: %s\n" % plugin_dir)
        fp.write("plugins:\n  - %s\n" % plugin_line)


def run_csv(daemon, conf, pcap, out):
    r = T.run([daemon, "--config", conf, "--read", pcap, "--csv", out])
    rows = None
    if os.path.exists(out):
        import csv
        with open(out, newline="") as fp:
            rows = list(csv.DictReader(fp))
    return r, rows


def compare_capture(ck, daemon, conf, pcap, threshold, out, must_decode):
    """True when compared; False when the reader decodes the capture differently."""
    r, rows = run_csv(daemon, conf, pcap, out)
    name = os.path.basename(pcap)
    if r.returncode not in (0, 1) or rows is None:
        ck.check("%s: nfsensord runs" % name, False, "rc %d: %s" % (r.returncode,
                                                                    T.tail(r.stderr)))
        return None
    mine, theirs = direct_counts(pcap, threshold), csv_counts(rows)
    same_flows = mine is not None and r.returncode == 0 and \
        {k: v[0] for k, v in mine.items()} == {k: v[0] for k, v in theirs.items()}
    if not same_flows:
        if must_decode:
            ck.check("%s: the reader finds nfsensord's flows and packet counts" % name, False)
        return None
    bad = [k for k in mine if mine[k][1] != theirs[k][1]]
    ok = ck.check("%s, threshold %d: big_packets equals the direct count on all %d flows "
                  "(%d big packets)" % (name, threshold, len(mine),
                                        sum(v[1] for v in mine.values())),
                  not bad, "; ".join("%s: got %d, counted %d" % (k, theirs[k][1], mine[k][1])
                                     for k in bad[:3]))
    return len(mine) if ok else 0


def check_ipfix(ck, daemon, conf, pcap, tmp):
    """The count arrives in IPFIX as bigPacketCount (own PEN, 3000), equal to the CSV's."""
    try:
        import ipfix.ie
        import ipfix.reader
    except ImportError:
        print("python3-ipfix not installed: IPFIX not checked")
        return
    out, csv_out = os.path.join(tmp, "g.ipfix"), os.path.join(tmp, "g.csv")
    r = T.run([daemon, "--config", conf, "--read", pcap, "--write", out, "--csv", csv_out])
    T.ipfix_model()
    ipfix.ie.for_spec("bigPacketCount(%d/3000)<unsigned64>[8]" % T.PEN_OWN)
    recs = [x for x in T.read_ipfix_file(out) if "flowEndReason" in x] if r.returncode == 0 else []
    _, rows = run_csv(daemon, conf, pcap, csv_out)
    want = sorted(int(x["udps.big_packets"]) for x in rows or [])
    got = sorted(x.get("bigPacketCount", -1) for x in recs)
    ck.check("IPFIX: every record carries bigPacketCount, as in the CSV (%d records)" % len(got),
             got == want and len(got) > 0, "IPFIX %s, CSV %s" % (got, want))


def check_counts(ck, daemon, so, tmp):
    plugin_dir = os.path.join(tmp, "plugins")
    os.makedirs(plugin_dir)
    shutil.copy(so, os.path.join(plugin_dir, "big_packets.so"))
    os.chmod(os.path.join(plugin_dir, "big_packets.so"), 0o755)
    conf_1000 = os.path.join(tmp, "t1000.yaml")
    conf_default = os.path.join(tmp, "tdefault.yaml")
    write_config(conf_1000, plugin_dir, "{name: big_packets, threshold: 1000}")
    write_config(conf_default, plugin_dir, "big_packets")

    pcaps, _ = T.generate(tmp)
    for pcap in pcaps:
        compare_capture(ck, daemon, conf_default, pcap, 666, os.path.join(tmp, "g666.csv"), True)
        compare_capture(ck, daemon, conf_1000, pcap, 1000, os.path.join(tmp, "g1000.csv"), True)
        check_ipfix(ck, daemon, conf_default, pcap, tmp)

    shared = os.path.join(T.source_dir(), "..", "shared", "pcaps", "nfstream")
    if not os.path.isdir(shared):
        print("no shared captures in %s: only the generated capture is compared" % shared)
        return
    compared = flows = 0
    names = sorted(n for n in os.listdir(shared) if n.endswith((".pcap", ".pcapng")))
    for n in names:
        got = compare_capture(ck, daemon, conf_1000, os.path.join(shared, n), 1000,
                              os.path.join(tmp, "s.csv"), False)
        if got is not None:
            compared += 1
            flows += got
    print("shared captures: %d of %d compared flow by flow (%d flows); the rest hold what the "
          "test's reader does not decode (tunnels, IPv6 extension headers, other links)"
          % (compared, len(names), flows))
    ck.check("at least 100 shared captures compared", compared >= 100, "%d" % compared)


# --------------------------------------------------------------------------------------------
# The loader's refusals


def compile_plugin(src_dir, tmp, name, body):
    """Builds tmp/<dir>/name.so from a C body that sees plugin.h; None when cc is missing."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    d = os.path.join(tmp, "p-" + name + "-%d" % len(os.listdir(tmp)))
    os.makedirs(d)
    c = os.path.join(d, name + ".c")
    with open(c, "w") as fp:
        fp.write('#include "plugin.h"\n' + body)
    so = os.path.join(d, name + ".so")
    r = subprocess.run([cc, "-std=gnu11", "-shared", "-fPIC", "-I", os.path.join(src_dir, "lib"),
                        "-o", so, c], capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode())
    os.chmod(so, 0o755)
    return d


def expect_refusal(ck, daemon, tmp, label, plugin_dir, plugin_line, *parts):
    conf = os.path.join(tmp, "refuse.yaml")
    write_config(conf, plugin_dir, plugin_line)
    r = T.run([daemon, "--config", conf, "--read", "/dev/null", "--csv", os.devnull])
    err = r.stderr.decode(errors="replace")
    ck.check("%s: exit 78, message %s" % (label, " + ".join('"%s"' % p for p in parts)),
             r.returncode == 78 and all(p in err for p in parts),
             "rc %d: %s" % (r.returncode, T.tail(r.stderr)))


def check_refusals(ck, daemon, so, tmp):
    src = T.source_dir()
    d = os.path.join(tmp, "writable")
    os.makedirs(d)
    path = os.path.join(d, "big_packets.so")
    shutil.copy(so, path)
    os.chmod(path, 0o775)
    expect_refusal(ck, daemon, tmp, "group-writable plugin", d, "big_packets", path,
                   "writable by group or others")
    os.chmod(path, 0o757)
    expect_refusal(ck, daemon, tmp, "world-writable plugin", d, "big_packets", path,
                   "writable by group or others")

    entry = "const struct nfs_plugin nfs_plugin_entry = {.name = \"%s\", .abi = %s, .size = %s};\n"
    size = "sizeof(struct nfs_plugin)"
    cases = [
        ("old_abi", "other ABI", entry % ("old_abi", "NFS_PLUGIN_ABI + 7", size),
         "built for plugin ABI"),
        ("small", "other struct size", entry % ("small", "NFS_PLUGIN_ABI", size + " - 8"),
         "built for plugin ABI"),
        ("no_entry", "no entry symbol", "const int nfs_plugin_something = 1;\n",
         "no symbol nfs_plugin_entry"),
        ("alias", "plugin of another name", entry % ("big_packets", "NFS_PLUGIN_ABI", size),
         "calls itself \"big_packets\""),
    ]
    for name, label, body, part in cases:
        pd = compile_plugin(src, tmp, name, body)
        if pd is None:
            print("no C compiler: %s not tested" % label)
            continue
        expect_refusal(ck, daemon, tmp, label, pd, name, os.path.join(pd, name + ".so"), part)

    good = os.path.join(tmp, "plugins")
    expect_refusal(ck, daemon, tmp, "unknown option", good, "{name: big_packets, thresold: 5}",
                   "refuse.yaml", "thresold")
    expect_refusal(ck, daemon, tmp, "threshold out of range", good,
                   "{name: big_packets, threshold: 0}", "refuse.yaml", "threshold")
    expect_refusal(ck, daemon, tmp, "no plugin_dir: not found", "", "big_packets",
                   "refuse.yaml", "big_packets")


def main():
    daemon = T.need_daemon()
    if len(sys.argv) < 4 or not os.path.exists(sys.argv[3]):
        T.skip("big_packets.so not given or not built")
    so = os.path.abspath(sys.argv[3])
    ck = T.Checker("test_big_packets")
    with T.tempdir("bigpk") as tmp:
        check_counts(ck, daemon, so, tmp)
        check_refusals(ck, daemon, so, tmp)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
