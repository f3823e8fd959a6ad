#!/usr/bin/python3
"""
test_collector_matrix.py NFSENSORD SOURCE_DIR PRIMITIVES_FILE

Issue 10's collector matrix. ONE nfsensord run per capture (pcapgen's skeleton plus its TLS
scenario: TCP, TLS with SNI, DNS, ICMP, IPv4 and IPv6; and a real capture from
../shared/pcaps when present), one YAML config with every collector at once, each with its
profile (docs/collectors.md's recipes), and the CSV sink (accounting ip):
  nfcapd/nfdump   IPFIX uniflow (records: uniflow, fields: iana-only), IPFIX biflow (default),
                  NetFlow v9 (format: netflow9)
  nfacctd         pmacct, IPFIX uniflow, lists flat, the generated aggregate_primitives file
  python3-ipfix   IPFIX biflow over UDP
  tshark          IPFIX biflow over UDP (the datagrams as a pcap, decoded as cflow)
  ipfixDump       IPFIX biflow, an RFC 5655 file
What each collector stored is compared with the CSV flow by flow (flows matched by 5-tuple
and start time): addresses, ports, protocol, packets and bytes both ways (IANA octets: the
CSV's ip-mode bytes, IPv6 plus its 40-byte header), start/end times (ms), the application
label (IANA applicationName, or pmacct's application_name primitive) and nDPI's ids named by
the options records' id -> name table. Prints the matrix; fails on any WRONG or lost cell.
For uniflow, nfdump's packet and byte totals per key and direction equal the CSV's.
"""
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402
import profiles_util as U  # noqa: E402
import test_app_labels as AL  # noqa: E402
import test_export_interop as EI  # noqa: E402
import test_pmacct_primitives as PM  # noqa: E402

COLUMNS = ("addresses", "ports", "protocol", "s2d packets", "s2d bytes", "d2s packets",
           "d2s bytes", "s2d times", "d2s times", "app name", "app id")
DIRS = (("s2d", "src2dst"), ("d2s", "dst2src"))

# Why a collector cannot keep a column (the legend's letters).
WHY = {
    "a": "nfdump 1.7.1 keeps no application field: it skips enterprise elements and IANA "
         "strings (applicationName 96)",
    "b": "NetFlow v9 has no string or enterprise field: nfsensord leaves them out of v9",
    "c": "nfdump 1.7 keeps one first/last per record: it reads RFC 5103 reverse times as "
         "forward ones (nfsensord writes the forward ones last, so they win)",
}


class Collector:
    """One collector of the run: its YAML entry, how it keeps records (uniflow: one record
    per direction, else biflows) and the columns it cannot keep (column -> WHY letter)."""

    def __init__(self, name, profile, uniflow, read, not_kept=None, yaml=""):
        self.name, self.profile, self.uniflow, self.read = name, profile, uniflow, read
        self.not_kept = not_kept or {}
        self.yaml = yaml


# --------------------------------------------------------------------------------------------
# The CSV's flows, and each collector's records in one shape: 5-tuple, s2d/d2s {packets, bytes,
# start, end} (uniflow: packets, bytes, start, end of its one direction), app, ids.


def csv_flow(row):
    f = {"src_ip": T._ip(row["src_ip"]), "dst_ip": T._ip(row["dst_ip"]),
         "src_port": int(row["src_port"]), "dst_port": int(row["dst_port"]),
         "protocol": int(row["protocol"]), "app": row["application_name"]}
    for d, c in DIRS:
        n = int(row[c + "_packets"])
        f[d] = {"packets": n, "bytes": U.csv_ip_octets(row, c),
                "times": (int(row[c + "_first_seen_ms"]), int(row[c + "_last_seen_ms"]))
                if n else None}
    return f


def start_of(f):
    """The flow's start (the earlier direction's first packet), the matching key's time."""
    return min(f[d]["times"][0] for d, _ in DIRS if f[d].get("times"))


def from_ies(x):
    """nfstest's normalised flow (python3-ipfix, ipfixDump) -> this test's biflow shape."""
    f = {k: x.get(k) for k in ("src_ip", "dst_ip", "src_port", "dst_port", "protocol")}
    f["app"] = x.get("application_name")
    f["ids"] = (x["dpi_master_id"], x["dpi_app_id"]) if "dpi_app_id" in x else None
    for d, _ in DIRS:
        y = x.get(d, {})
        f[d] = {"packets": y.get("packets"), "bytes": y.get("ip_octets"),
                "times": (y["first_seen_ms"], y["last_seen_ms"]) if y.get("packets") else None}
    return f


def from_nfdump(r, uniflow):
    x = U.nfdump_flow(r)
    f = {k: x[k] for k in ("src_ip", "dst_ip", "src_port", "dst_port", "protocol")}
    if uniflow:
        f.update(packets=x["packets"], bytes=x["bytes"], times=(x["start"], x["end"]))
        return f
    f["s2d"] = {"packets": x["packets"], "bytes": x["bytes"], "times": (x["start"], x["end"])}
    f["d2s"] = {"packets": x["out_packets"], "bytes": x["out_bytes"], "times": None}
    return f


def from_tshark(x):
    """tshark marks reverse counters but not reverse times: the times are an unordered set."""
    f = {k: x.get(k) for k in ("src_ip", "dst_ip", "src_port", "dst_port", "protocol")}
    f["app"] = x.get("application_name")
    f["ids"] = (x["dpi_master_id"], x["dpi_app_id"]) if "dpi_app_id" in x else None
    f["time_set"] = sorted(t for t in x["times"] if t != (0, 0))
    for d, _ in DIRS:
        f[d] = {"packets": x[d].get("packets"), "bytes": x[d].get("ip_octets")}
    f["s2d"]["times"] = f["time_set"][0] if f["time_set"] else None  # for the key's start
    return f


def from_pmacct(g):
    f = {"src_ip": T._ip(g["src_ip"]), "dst_ip": T._ip(g["dst_ip"]),
         "src_port": int(g["src_port"]), "dst_port": int(g["dst_port"]),
         "protocol": proto_number(g["protocol"]), "packets": int(g["packets"]),
         "bytes": int(g["bytes"]), "app": g.get("application_name"),
         "times": (round(float(g["timestamp_start"]) * 1000),
                   round(float(g["timestamp_end"]) * 1000))}
    if g.get("dpiappprotocolid") is not None:
        f["ids"] = (int(g["dpimasterprotocolid"]), int(g["dpiappprotocolid"]))
    return f


def proto_number(p):
    names = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "icmp6": 58}
    return int(p) if p.isdigit() else names[p.lower()]


def join_uniflow(records, csv_flows):
    """A uniflow collector's two records of each CSV flow -> one biflow-shaped flow: src->dst
    by (5-tuple, src2dst first packet), dst->src by the swapped 5-tuple and its first packet.
    Returns {index of the CSV flow: flow} and the records that matched none."""
    by = {}
    for r in records:
        k = (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["protocol"],
             r["times"][0])
        by.setdefault(k, []).append(r)
    out = {}
    for i, e in enumerate(csv_flows):
        f = {}
        for d, (a, ap, b, bp) in (("s2d", ("src_ip", "src_port", "dst_ip", "dst_port")),
                                  ("d2s", ("dst_ip", "dst_port", "src_ip", "src_port"))):
            if not e[d]["packets"]:
                f[d] = {"packets": 0, "bytes": 0, "times": None}
                continue
            k = (e[a], e[ap], e[b], e[bp], e["protocol"], e[d]["times"][0])
            r = by.get(k, [None]).pop(0) if by.get(k) else None
            if r is None:
                continue
            f[d] = {"packets": r["packets"], "bytes": r["bytes"], "times": r["times"]}
            if d == "s2d":
                f.update({x: r[x] for x in ("src_ip", "src_port", "dst_ip", "dst_port",
                                            "protocol")})
                f["app"], f["ids"] = r.get("app"), r.get("ids")
        if "s2d" in f and "src_ip" in f:
            out[i] = f
    rest = [r for rs in by.values() for r in rs]
    return out, rest


def join_biflow(flows, csv_flows, forward_times_only):
    """By (5-tuple, start): the flow's start, or src->dst's first packet for a collector that
    keeps forward times only (a continuation begun by the responder starts with dst->src)."""
    by = {}
    for f in flows:
        k = (f["src_ip"], f["src_port"], f["dst_ip"], f["dst_port"], f["protocol"])
        by.setdefault(k + (start_of(f),), []).append(f)
    out = {}
    for i, e in enumerate(csv_flows):
        t = e["s2d"]["times"][0] if forward_times_only and e["s2d"]["packets"] else start_of(e)
        k = (e["src_ip"], e["src_port"], e["dst_ip"], e["dst_port"], e["protocol"], t)
        if by.get(k):
            out[i] = by[k].pop(0)
    return out, [f for fs in by.values() for f in fs]


# --------------------------------------------------------------------------------------------
# Cells


def verdicts(e, o, table):
    """column -> True (equal), False (differs), None (did not arrive) for one flow."""
    v = {"addresses": (o["src_ip"], o["dst_ip"]) == (e["src_ip"], e["dst_ip"]),
         "ports": (o["src_port"], o["dst_port"]) == (e["src_port"], e["dst_port"]),
         "protocol": o["protocol"] == e["protocol"]}
    for d, _ in DIRS:
        od = o.get(d)
        for c in ("packets", "bytes"):
            v["%s %s" % (d, c)] = None if od is None or od.get(c) is None else \
                od[c] == e[d][c]
        if not e[d]["packets"]:
            continue  # no packet that way: no times to compare
        if "time_set" in o:
            v["%s times" % d] = e[d]["times"] in o["time_set"]
        else:
            v["%s times" % d] = None if od is None or od.get("times") is None else \
                od["times"] == e[d]["times"]
    v["app name"] = None if o.get("app") is None else o["app"] == e["app"]
    ids = o.get("ids")
    v["app id"] = None if ids is None or table is None else \
        AL.label(table, ids[0], ids[1]) == e["app"]
    return v


def cells(coll, csv_flows, observed, table, problems):
    """column -> cell text, and whether the cell fails."""
    counts = {c: [0, 0, 0, 0] for c in COLUMNS}  # applicable, equal, differ, missing
    for i, e in enumerate(csv_flows):
        o = observed.get(i)
        v = verdicts(e, o, table) if o is not None else {}
        for c in COLUMNS:
            if c in coll.not_kept or (c.endswith("times") and not e[c[:3]]["packets"]):
                continue
            counts[c][0] += 1
            r = v.get(c)
            counts[c][1 if r else 2 if r is False else 3] += 1
            if not r:
                problems.append("%s %s: flow %s:%s->%s:%s %s" % (
                    coll.name, c, e["src_ip"], e["src_port"], e["dst_ip"], e["dst_port"],
                    "differs: %r" % (o,) if r is False else "did not arrive"))
    out = {}
    for c in COLUMNS:
        if c in coll.not_kept:
            out[c] = ("not kept (%s)" % coll.not_kept[c], False)
            continue
        n, ok, bad, lost = counts[c]
        if bad:
            out[c] = ("WRONG %d/%d" % (bad, n), True)
        elif lost:
            out[c] = ("lost" if lost == n else "lost %d/%d" % (lost, n), True)
        else:
            out[c] = ("correct", n == 0)
    return out


def show(title, rows):
    w0 = max(len(r[0]) for r in rows)
    widths = [max(len(c), max(len(r[1][c][0]) for r in rows)) for c in COLUMNS]
    line = "| %s | %s |" % ("collector".ljust(w0), " | ".join(
        c.ljust(w) for c, w in zip(COLUMNS, widths)))
    print("\n%s\n\n%s" % (title, line))
    print("|%s|%s|" % ("-" * (w0 + 2), "|".join("-" * (w + 2) for w in widths)))
    for name, cs in rows:
        print("| %s | %s |" % (name.ljust(w0), " | ".join(
            cs[c][0].ljust(w) for c, w in zip(COLUMNS, widths))))
    print("\nnot kept: " + "; ".join("(%s) %s" % kv for kv in sorted(WHY.items())))
    print("app id: nDPI's ids (dpiMasterProtocolId/dpiAppProtocolId) named by the id -> name "
          "options records the run sent (decoded by python3-ipfix); tshark: its times are an "
          "unordered set (it marks reverse counters, not reverse times)\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------
# Receivers


def start_nfacctd(ck, tmp, prim_file):
    port = T.free_udp_port()
    cfg, out = os.path.join(tmp, "nfacctd.conf"), os.path.join(tmp, "pmacct.csv")
    names = [p["name"] for p in PM.primitives(prim_file)]
    agg = ["src_host", "dst_host", "src_port", "dst_port", "proto", "timestamp_start",
           "timestamp_end", "application_name", "dpiMasterProtocolId", "dpiAppProtocolId"]
    missing = [n for n in agg[7:] if n not in names]
    ck.check("the primitives file declares %s" % ", ".join(agg[7:]), not missing,
             "missing %s" % missing)
    with open(cfg, "w") as f:
        f.write("daemonize: false\nnfacctd_ip: 127.0.0.1\nnfacctd_port: %d\n"
                "aggregate_primitives: %s\nplugins: print\naggregate: %s\n"
                "print_output: csv\nprint_output_file: %s\nprint_refresh_time: 3600\n"
                "timestamps_since_epoch: true\n" % (port, prim_file, ", ".join(agg), out))
    log = open(os.path.join(tmp, "nfacctd.log"), "w+")
    p = subprocess.Popen([T.need_tool("nfacctd"), "-f", cfg], stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True)
    ck.check("nfacctd starts with the generated primitives file",
             PM.wait_for(log, "waiting for NetFlow/IPFIX data", p), T.tail(open(log.name).read()))
    return p, port, out


def read_nfacctd(ck, p, out):
    time.sleep(1.0)
    T.stop(p, signal.SIGINT)  # nfacctd ignores SIGTERM; SIGINT writes its cache out
    if not ck.check("nfacctd wrote its table", os.path.exists(out)):
        return []
    import csv
    with open(out, newline="") as f:
        return [from_pmacct({k.lower(): v for k, v in g.items()}) for g in csv.DictReader(f)]


def tshark_read(ck, catcher, tmp, tag):
    cap = os.path.join(tmp, tag + "-ipfix.pcap")
    catcher.write_pcap(cap)
    d = T.run([T.need_tool("tshark"), "-r", cap, "-d", "udp.port==%d,cflow" % catcher.port,
               "-T", "pdml"], timeout=300)
    ck.check("%s: tshark decodes the IPFIX datagrams" % tag, d.returncode == 0, T.tail(d.stderr))
    try:
        return [from_tshark(x) for x in EI.tshark_flows(d.stdout.decode("utf-8", "replace"))]
    except ET.ParseError as e:
        ck.check("%s: tshark's PDML parses" % tag, False, repr(e))
        return []


def ipfixdump_read(ck, path, tag):
    d = T.run([T.need_tool("ipfixDump"), "--rfc5610", "-i", path], timeout=300)
    ck.check("%s: ipfixDump reads the file" % tag, d.returncode == 0, T.tail(d.stderr))
    flows, _ = T.flows_from_ipfixdump(d.stdout.decode("utf-8", "replace"))
    return [from_ies(x) for x in flows]


# --------------------------------------------------------------------------------------------
# One capture through one nfsensord


def run_capture(ck, daemon, tmp, tag, pcap, prim_file):
    uni, bi, v9 = (U.Nfcapd(ck, tmp, "%s-nfcapd-%s" % (tag, n))
                   for n in ("uniflow", "biflow", "netflow9"))
    acct, acct_port, acct_out = start_nfacctd(ck, tmp, prim_file)
    py = T.UdpIpfixReceiver()
    py.start()
    catcher = U.UdpCatcher()
    ipfix_file = os.path.join(tmp, tag + ".ipfix")
    colls = [
        Collector("nfcapd/nfdump", "IPFIX uniflow", True,
                  lambda: [from_nfdump(r, True) for r in nf_recs[uni.name]],
                  {"app name": "a", "app id": "a"},
                  "  - address: 127.0.0.1:%d\n    records: uniflow\n    fields: iana-only\n" %
                  uni.port),
        Collector("nfcapd/nfdump", "IPFIX biflow", False,
                  lambda: [from_nfdump(r, False) for r in nf_recs[bi.name]],
                  {"d2s times": "c", "app name": "a", "app id": "a"},
                  "  - address: 127.0.0.1:%d\n" % bi.port),
        Collector("nfcapd/nfdump", "NetFlow v9", True,
                  lambda: [from_nfdump(r, True) for r in nf_recs[v9.name]],
                  {"app name": "b", "app id": "b"},
                  "  - address: 127.0.0.1:%d\n    format: netflow9\n" % v9.port),
        Collector("nfacctd (pmacct)", "IPFIX uniflow", True,
                  lambda: read_nfacctd(ck, acct, acct_out),
                  yaml="  - address: 127.0.0.1:%d\n    records: uniflow\n    lists: flat\n" %
                  acct_port),
        Collector("python3-ipfix", "IPFIX biflow, UDP", False,
                  lambda: [from_ies(x) for x in T.flows_from_namedicts(py.records)],
                  yaml="  - address: 127.0.0.1:%d\n" % py.port),
        Collector("tshark", "IPFIX biflow, UDP", False,
                  lambda: tshark_read(ck, catcher, tmp, tag),
                  yaml="  - address: 127.0.0.1:%d\n" % catcher.port),
        Collector("ipfixDump", "IPFIX biflow, file", False,
                  lambda: ipfixdump_read(ck, ipfix_file, tag),
                  yaml="  - file: %s\n" % ipfix_file),
    ]
    csv_path = U.run_daemon(
        ck, daemon, tmp, tag, pcap,
        "flows:\n  accounting: ip\n  idle_timeout: %ds\n  active_timeout: %ds\n"
        "collectors:\n%s" % (T.IDLE_S, T.ACTIVE_S, "".join(c.yaml for c in colls)))
    py.finish()
    catcher.finish()
    nf_recs = {c.name: c.records() for c in (uni, bi, v9)}
    csv_flows = [csv_flow(r) for r in U.csv_flows(csv_path)]
    ck.info("%s: %d CSV flows, labels %s" % (tag, len(csv_flows),
                                             ", ".join(sorted({f["app"] for f in csv_flows}))))
    _, table, _ = AL.table_of(py.records, T.PEN_OWN)
    ck.check("%s: python3-ipfix decoded the id -> name table (%d ids)" % (tag, len(table)),
             len(table) > 100 and not py.errors, "; ".join(py.errors[:3]))

    # uniflow: the point, nfdump's totals per key and direction
    expected_uni = U.uniflow_records(U.csv_flows(csv_path))
    U.compare_totals(ck, "%s: nfdump uniflow" % tag, expected_uni,
                     [U.nfdump_flow(r) for r in nf_recs[uni.name]])

    rows, problems = [], []
    for c in colls:
        recs = c.read()
        if c.uniflow:
            observed, rest = join_uniflow(recs, csv_flows)
        else:
            observed, rest = join_biflow(recs, csv_flows, "d2s times" in c.not_kept)
        cs = cells(c, csv_flows, observed, table, problems)
        name = "%s, %s" % (c.name, c.profile)
        ck.check("%s %s: every record is one of the CSV's flows (%d records)" % (tag, name,
                                                                               len(recs)),
                 not rest and recs, "unmatched: %s" % rest[:3])
        for col, (text, bad) in cs.items():
            ck.check("%s %s: %s %s" % (tag, name, col, text), not bad)
        rows.append((name, cs))
    for p in problems[:20]:
        ck.info(p)
    show("collector matrix, %s (%d flows, one nfsensord run, %s)" % (
        tag, len(csv_flows), os.path.basename(pcap)), rows)


def main():
    daemon = T.need_daemon()
    for tool in ("nfcapd", "nfdump", "nfacctd", "tshark", "ipfixDump"):
        T.need_tool(tool)
    try:
        import ipfix.reader  # noqa: F401
    except ImportError:
        T.skip("python3-ipfix not installed")
    prim_file = sys.argv[3] if len(sys.argv) > 3 else None
    if not prim_file or not os.path.exists(prim_file):
        T.skip("no generated primitives file")
    AL.ipfix_model()
    ck = T.Checker("test_collector_matrix")
    with T.tempdir("matrix") as tmp:
        skeleton = [n for n, _, _, default in T.pcapgen().SCENARIOS if default]
        for tag, pcap in U.captures(tmp, only=skeleton + ["tls"]):
            run_capture(ck, daemon, tmp, tag, pcap, prim_file)
    ck.finish()


if __name__ == "__main__":
    main()
