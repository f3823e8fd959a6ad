#!/usr/bin/python3
"""
test_plugins_ipfix.py NFSENSORD [SOURCE_DIR]

The statistics and splt plugins' fields in IPFIX, each compared with the CSV of the same run
(the CSV is what the parity tests hold to NFStream), flow by flow (flowId = the CSV's id):

1. ipfixDump --rfc5610, splt encoding basiclist then flat: every plugin element arrives named
   by its RFC 5610 record (no _alienInformationElement), in every record; the three RFC 6313
   lists (or the N elements per sequence) and the 48 statistics equal their CSV columns
   (floats as ipfixDump prints them, 8 significant digits).
2. nfcapd/nfdump 1.7.1, encoding flat: what nfdump keeps. It drops enterprise elements
   (COLLECTORS.md), so no plugin field arrives there; the test shows that and checks that the
   flows themselves still arrive whole (nfcapd takes the large flat template).
3. nfacctd (pmacct 1.7.7), encoding flat: a collector without structured data that keeps the
   enterprise elements it is told about (aggregate_primitives by PEN:id): every flat splt
   position and all 48 statistics arrive equal to the CSV. pmacct has no signed or float
   primitive: signed items are read as unsigned of their width, floats as raw bytes. It
   crashed with 66 custom primitives in one configuration (56 worked), so two runs share them.
"""
import csv
import math
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402

N = 6  # splt packets in these runs
SEQS = [("spltDirection", "splt_direction", 2000, 1), ("spltPacketSize", "splt_ps", 2300, 4),
        ("spltPiatMilliseconds", "splt_piat_ms", 2600, 8)]  # flat name, column, id base, bytes


def plugin_fields(daemon):
    """{IPFIX name: (id, CSV column)} of the statistics and splt tables (--list-fields)."""
    r = T.run([daemon, "--list-fields"])
    fields, section = {}, None
    for line in r.stdout.decode().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif section in ("plugin statistics", "plugin splt") and line.startswith("| ") \
                and not line.startswith("| IPFIX name"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            fields[cells[0]] = (int(cells[2]), cells[3])
    return fields


def write_config(path, encoding):
    with open(path, "w") as f:
        f.write("plugins:\n  - statistics\n  - {name: splt, packets: %d, encoding: %s}\n"
                % (N, encoding))


def run_daemon(ck, daemon, label, pcap, conf, extra):
    r = T.run([daemon, "--config", conf, "--read", pcap] + extra + T.daemon_args("default"))
    ck.check("%s: nfsensord exits 0" % label, r.returncode == 0,
             "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
    return r.returncode == 0


def read_csv(path):
    with open(path, newline="") as f:
        return {int(r["id"]): r for r in csv.DictReader(f)}


def csv_list(text):
    return [int(x) for x in text.strip("[]").split(",")]


# --------------------------------------------------------------------------------------------
# ipfixDump


FIELD = re.compile(r"^\t\((\d+)(?:/(\d+))?\)\s*(?:\(S\)\s*)?(\S+) : ?(.*)$")
LIST_HEAD = re.compile(r"^\t\t\tcount: (\d+)\s+semantic: \S+\s+ie: \((\d+)/(\d+)\) (\S+)")
LIST_ITEM = re.compile(r"^\t\t\t(\d+)\s*: (.*)$")


def parse_dump(text):
    """Data records of template 256+ as {name: value string, or list of strings for a list}."""
    records, cur, tid, lst = [], None, None, None
    for line in text.splitlines():
        if line.startswith("--- data record"):
            cur, lst = {}, None
            continue
        m = re.search(r"tid:\s+(\d+)", line)
        if m and cur is not None and not cur:
            tid = int(m.group(1))
            if 256 <= tid < 0xFF00:
                records.append(cur)
            continue
        if cur is None:
            continue
        m = LIST_HEAD.match(line)
        if m:
            lst = cur.setdefault(m.group(4), [])
            continue
        m = LIST_ITEM.match(line)
        if m and lst is not None:
            lst.append(m.group(2).strip())
            continue
        m = FIELD.match(line)
        if m:
            lst = None
            cur[m.group(3)] = m.group(4).strip()
    return records


def same_value(dumped, column):
    """ipfixDump's text of a value against the CSV's: floats to 8 digits, the rest exactly."""
    try:
        return int(dumped) == int(column)
    except ValueError:
        return math.isclose(float(dumped), float(column), rel_tol=1e-7, abs_tol=1e-9)


def check_ipfixdump(ck, label, records, rows, expect):
    """expect: {element name: function(csv row) -> value string or list of strings}."""
    ck.check("%s: a record per CSV row (%d)" % (label, len(rows)),
             len(records) == len(rows) and rows, "%d records" % len(records))
    missing, wrong = set(), []
    for rec in records:
        row = rows.get(int(rec.get("flowId", -1)))
        if row is None:
            wrong.append("flowId %s not in the CSV" % rec.get("flowId"))
            continue
        for name, want_of in expect.items():
            want = want_of(row)
            got = rec.get(name)
            if got is None:
                missing.add(name)
            elif isinstance(want, list):
                if len(got) != len(want) or not all(same_value(g, w) for g, w in zip(got, want)):
                    wrong.append("flow %s %s: %s, CSV %s" % (row["id"], name, got, want))
            elif not same_value(got, want):
                wrong.append("flow %s %s: %s, CSV %s" % (row["id"], name, got, want))
    ck.check("%s: every record has all %d plugin elements" % (label, len(expect)), not missing,
             "missing: %s" % ", ".join(sorted(missing)))
    ck.check("%s: every plugin element equals its CSV column" % label, not wrong,
             "%d differ, e.g. %s" % (len(wrong), "; ".join(wrong[:3])))


def expectations(fields, encoding):
    expect = {}
    for name, (fid, column) in fields.items():
        if 1100 <= fid < 1200:
            expect[name] = (lambda c: lambda row: row[c])(column)
    for flat, column, base, _ in SEQS:
        if encoding == "basiclist":
            expect[flat] = (lambda c: lambda row: [str(v) for v in csv_list(row[c])])(column)
        else:
            for i in range(1, N + 1):
                expect["%s%d" % (flat, i)] = (lambda c, k: lambda row: str(csv_list(row[c])[k]))(
                    column, i - 1)
    return expect


def ipfixdump_part(ck, daemon, dump, tmp, pcap, fields):
    for encoding in ("basiclist", "flat"):
        label = "ipfixDump/%s" % encoding
        conf = os.path.join(tmp, "%s.yaml" % encoding)
        out = os.path.join(tmp, "%s.ipfix" % encoding)
        out_csv = os.path.join(tmp, "%s.csv" % encoding)
        write_config(conf, encoding)
        if not run_daemon(ck, daemon, label, pcap, conf, ["--write", out, "--csv", out_csv]):
            continue
        d = T.run([dump, "-i", out, "--rfc5610"], timeout=60)
        text = d.stdout.decode("utf-8", "replace")
        ck.check("%s: ipfixDump reads the file" % label, d.returncode == 0,
                 "rc %d: %s" % (d.returncode, T.tail(d.stderr)))
        ck.check("%s: every element named by RFC 5610 records" % label,
                 "_alienInformationElement" not in text)
        if encoding == "basiclist":
            ck.check("%s: three RFC 6313 basicLists per record, semantic ordered" % label,
                     text.count("semantic: 4-ordered") == 3 * len(read_csv(out_csv)))
        check_ipfixdump(ck, label, parse_dump(text), read_csv(out_csv),
                        expectations(fields, encoding))


# --------------------------------------------------------------------------------------------
# nfcapd / nfdump


def wait_for(log, marker, proc, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        log.seek(0)
        if marker in log.read():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def nfdump_part(ck, daemon, tmp, pcap):
    nfcapd, nfdump = shutil.which("nfcapd"), shutil.which("nfdump")
    if not nfcapd or not nfdump:
        ck.info("skip nfcapd/nfdump: not installed")
        return
    label = "nfcapd/flat"
    spool = os.path.join(tmp, "spool")
    os.makedirs(spool)
    port = T.free_udp_port()
    conf, out_csv = os.path.join(tmp, "flat.yaml"), os.path.join(tmp, "nfcapd.csv")
    write_config(conf, "flat")
    log = open(os.path.join(tmp, "nfcapd.log"), "w+")
    cap = subprocess.Popen([nfcapd, "-b", "127.0.0.1", "-p", str(port), "-w", spool, "-t",
                            "3600"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    if not ck.check("%s: nfcapd started" % label, wait_for(log, "Startup", cap)):
        T.stop(cap)
        return
    run_daemon(ck, daemon, label, pcap, conf,
               ["--collector", "udp://127.0.0.1:%d" % port, "--csv", out_csv])
    time.sleep(1.0)
    T.stop(cap)
    log.close()
    rows = read_csv(out_csv)
    d = T.run([nfdump, "-R", spool, "-o", "raw"], timeout=60)
    text = d.stdout.decode("utf-8", "replace")
    got = [int(x) for x in re.findall(r"^\s+in packets\s+=\s+(\d+)", text, re.M)]
    want = [int(r["src2dst_packets"]) for r in rows.values()]
    ck.check("%s: every flow arrives with its packets (%d flows)" % (label, len(want)),
             sorted(got) == sorted(want), "nfdump: %s, CSV: %s" % (sorted(got), sorted(want)))
    kept = sorted(set(re.findall(r"^\s+([a-z][a-zA-Z ]+?)\s+=", text, re.M)))
    ck.info("nfdump -o raw shows: %s" % ", ".join(kept))
    ck.check("%s: nfdump keeps no plugin element (it drops enterprise elements)" % label,
             not any(re.search(r"splt|stddev|piat|mean", k, re.I) for k in kept))


# --------------------------------------------------------------------------------------------
# nfacctd


def primitives(fields):
    """(name, PEN:id, bytes, semantics, CSV value of a row) for every flat element."""
    prims = []
    for flat, column, base, size in SEQS:
        for i in range(1, N + 1):
            prims.append(("%s%d" % (flat, i), base + i, size, "u_int",
                          (lambda c, k: lambda row: csv_list(row[c])[k])(column, i - 1)))
    for name, (fid, column) in sorted(fields.items(), key=lambda x: x[1][0]):
        if 1100 <= fid < 1200:
            prims.append((name, fid, 8, "raw", (lambda c: lambda row: row[c])(column)))
    return prims


def same_pmacct(text, want, size, semantics):
    """pmacct's text of one primitive against the CSV's value. u_int: signed items come back
    as unsigned of their width (-1: all ones); raw: "00-00-05-CC", the element's bytes, an
    unsigned integer or a float64 (compared exactly: the CSV's float text round-trips)."""
    if semantics == "u_int":
        return int(text) == int(want) % (1 << (8 * size))
    raw = bytes.fromhex(text.replace("-", ""))
    try:
        return int.from_bytes(raw, "big") == int(want)
    except ValueError:
        return len(raw) == 8 and struct.unpack(">d", raw)[0] == float(want)


def run_nfacctd(ck, daemon, tmp, pcap, part, prims, nfacctd):
    label = "nfacctd/flat (%s)" % part
    port = T.free_udp_port()
    pmap, cfg = os.path.join(tmp, "prim-%s.map" % part), os.path.join(tmp, "nfacctd-%s.conf" % part)
    out = os.path.join(tmp, "pmacct-%s.csv" % part)
    with open(pmap, "w") as f:
        for name, fid, size, sem, _ in prims:
            f.write("name=%s field_type=%d:%d len=%d semantics=%s\n"
                    % (name, T.PEN_OWN, fid, size, sem))
    agg = ["src_host", "dst_host", "src_port", "dst_port", "proto", "timestamp_start"]
    with open(cfg, "w") as f:
        f.write("daemonize: false\nnfacctd_ip: 127.0.0.1\nnfacctd_port: %d\n"
                "aggregate_primitives: %s\nplugins: print\naggregate: %s\nprint_output: csv\n"
                "print_output_file: %s\nprint_refresh_time: 3600\ntimestamps_since_epoch: true\n"
                % (port, pmap, ", ".join(agg + [p[0] for p in prims]), out))
    conf, out_csv = os.path.join(tmp, "flat.yaml"), os.path.join(tmp, "pmacct-%s-nfs.csv" % part)
    write_config(conf, "flat")
    log = open(os.path.join(tmp, "nfacctd-%s.log" % part), "w+")
    acct = subprocess.Popen([nfacctd, "-f", cfg], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    ready = wait_for(log, "waiting for NetFlow/IPFIX data", acct) and \
        wait_for(log, "cache entries", acct)
    if not ck.check("%s: nfacctd started" % label, ready, T.tail(open(log.name).read())):
        T.stop(acct, signal.SIGINT)
        return
    run_daemon(ck, daemon, label, pcap, conf,
               ["--collector", "udp://127.0.0.1:%d" % port, "--csv", out_csv])
    time.sleep(1.0)
    T.stop(acct, signal.SIGINT)  # nfacctd ignores SIGTERM; SIGINT writes the cache out
    log.close()
    rows = list(read_csv(out_csv).values())
    if not ck.check("%s: pmacct wrote its table" % label, os.path.exists(out)):
        return
    with open(out, newline="") as f:  # pmacct writes primitive names in lower case
        got = [{k.lower(): v for k, v in g.items()} for g in csv.DictReader(f)]
    ck.check("%s: a line per flow (%d)" % (label, len(rows)), len(got) == len(rows),
             "%d lines" % len(got))
    by_key = {}
    for g in got:
        key = (g["src_ip"], int(g["src_port"]), g["dst_ip"], int(g["dst_port"]),
               round(float(g["timestamp_start"]) * 1000))
        by_key[key] = g
    wrong = []
    for row in rows:
        key = (row["src_ip"], int(row["src_port"]), row["dst_ip"], int(row["dst_port"]),
               int(row["src2dst_first_seen_ms"]))
        g = by_key.get(key)
        if g is None:
            wrong.append("flow %s not in pmacct's table" % row["id"])
            continue
        for name, _, size, sem, want_of in prims:
            want = str(want_of(row))
            text = g.get(name.lower())
            if text is None or not same_pmacct(text, want, size, sem):
                wrong.append("flow %s %s: %s, CSV %s" % (row["id"], name, text, want))
    ck.check("%s: all %d elements of every flow equal the CSV" % (label, len(prims)), not wrong,
             "%d differ, e.g. %s" % (len(wrong), "; ".join(wrong[:3])))


def nfacctd_part(ck, daemon, tmp, pcap, fields):
    nfacctd = shutil.which("nfacctd")
    if not nfacctd:
        ck.info("skip nfacctd: not installed (Debian package pmacct)")
        return
    prims = primitives(fields)
    half = len(prims) // 2
    run_nfacctd(ck, daemon, tmp, pcap, "1", prims[:half], nfacctd)
    run_nfacctd(ck, daemon, tmp, pcap, "2", prims[half:], nfacctd)


def main():
    dump = T.need_tool("ipfixDump")
    daemon = T.need_daemon()
    ck = T.Checker("test_plugins_ipfix")
    fields = plugin_fields(daemon)
    ck.check("--list-fields has the 48 statistics and the 3 splt elements",
             sum(1100 <= v[0] < 1200 for v in fields.values()) == 48 and
             all(s[0] in fields for s in SEQS), str(sorted(fields)))
    with T.tempdir("plugins-ipfix") as tmp:
        pcaps, _ = T.generate(tmp)
        ipfixdump_part(ck, daemon, dump, tmp, pcaps[0], fields)
        nfdump_part(ck, daemon, tmp, pcaps[0])
        nfacctd_part(ck, daemon, tmp, pcaps[0], fields)
    ck.finish()


if __name__ == "__main__":
    main()
