#!/usr/bin/python3
"""The dpi plugin agrees with Debian's ndpiReader 4.2 (the same libndpi) on the shared corpus.

usage: ndpi_agreement.py NFSENSORD SHARED_DIR [--quiet]

For every capture with ndpiReader output in SHARED_DIR/pcaps/corpus/ndpi42 (its README gives the
command), runs nfsensord with the dpi plugin and matches its flows with ndpiReader's by VLAN,
L4 protocol and the two (address, port) endpoints. Prints the application agreement per capture
and in total, then every disagreement with its reason. Fails when the total agreement is below
99%, or when a server name, JA3/JA3S, HASSH, DHCP fingerprint, user agent or content type that
ndpiReader printed differs from nfsensord's without a known reason. Exit 77 (skip) without the
shared captures.

nfsensord settings, chosen to meter flows the way ndpiReader 4.2 does offline (defaults are not
changed): --profile nfstream (no TCP-end cut: ndpiReader keeps a connection's packets in one
flow whatever its FIN/RST; only GTP-U/CAPWAP/TZSP are decapsulated, as with ndpiReader -t), and
idle and active timeouts of a year (ndpiReader expires idle flows only in live capture:
ndpiReader.c runs its idle scan `if(live_capture)`). max_packets stays at its default of 20:
ndpiReader dissects up to 81 TCP / 25 UDP packets, but no flow of the corpus needs more than 20.

Sources: the .out file (nDPI test format: VLAN, "[proto: M.A/Master.App]", Hostname/SNI, JA3C,
JA3S, HASSH-C/S, User-Agent, Content-Type, DHCP Fingerprint) and the .csv (ndpi_proto,
server_name_sni, ja3c, ja3s, ssh_client_hassh, ssh_server_hassh), joined by flow and packet
count; the .csv's values are checked where it has the column, the .out's otherwise.
IPv6 addresses are compared in ndpiReader's spelling (ndpi_patchIPv6Address turns ":0:" into
"::"), computed with libndpi itself.
"""
import concurrent.futures
import csv
import ctypes
import ctypes.util
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict

NFSENSORD_ARGS = ["--profile", "nfstream", "--idle-timeout", "31536000",
                  "--active-timeout", "31536000", "--plugin", "dpi"]
THRESHOLD = 99.0
L4 = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPV6": 58, "IGMP": 2, "VRRP": 112}
L4_NAME = {v: k for k, v in L4.items()}
FLOW_LINE = re.compile(r"^\t(\d+)\t(\S+) (\S+) (<->|->) (\S+) (\[.*)$")
PKTS = re.compile(r"\[(\d+) pkts/\d+ bytes (?:<->|->) (\d+) pkts/\d+ bytes\]")

_ndpi = ctypes.CDLL(ctypes.util.find_library("ndpi"))


def ndpi_ip(addr):
    """An address as ndpiReader 4.2 prints it."""
    if ":" not in addr:
        return addr
    buf = ctypes.create_string_buffer(addr.encode())
    _ndpi.ndpi_patchIPv6Address(buf)
    return buf.value.decode()


def endpoint(text):
    addr, port = text[1:].rsplit("]:", 1) if text.startswith("[") else text.rsplit(":", 1)
    return addr, int(port)


def out_value(rest, key):
    """The value of [key: value] in an .out line; values may hold ']' (user agents do)."""
    start = rest.find("[%s: " % key)
    if start < 0:
        return ""
    start += len(key) + 3
    end = rest.find("][", start)
    return rest[start:end if end >= 0 else rest.rindex("]")]


def out_has(rest, key, value):
    """True when the line shows exactly [key: value]."""
    tag = "[%s: %s]" % (key, value)
    i = rest.find(tag)
    return i >= 0 and (i + len(tag) == len(rest) or rest[i + len(tag)] == "[")


class RefFlow:
    def __init__(self, l4, a, arrow, b, rest):
        self.proto = L4.get(l4, int(l4) if l4.isdigit() else -1)
        self.vlan = int(out_value(rest, "VLAN") or 0)
        self.ends = frozenset([endpoint(a), endpoint(b)])
        self.key = (self.vlan, self.proto, self.ends)
        self.text = "%s %s %s %s" % (l4, a, arrow, b)
        self.rest = rest
        self.app = out_value(rest, "proto").split("/", 1)[1]
        self.confidence = out_value(rest, "Confidence")
        m = PKTS.search(rest)
        self.packets = int(m.group(1)) + int(m.group(2)) if m else -1
        self.csv = {}


def read_out(path):
    flows = []
    with open(path, errors="replace") as f:
        for line in f:
            m = FLOW_LINE.match(line.rstrip("\n"))
            if m and "[proto: " in m.group(6):
                flows.append(RefFlow(*m.group(2, 3, 4, 5, 6)))
    return flows


def join_csv(path, flows):
    """Attaches each .csv row to its .out flow (same L4, endpoints and packet count)."""
    by = defaultdict(list)
    for f in flows:
        by[(f.proto, f.ends, f.packets)].append(f)
    with open(path, newline="", errors="replace") as fp:
        head = fp.readline().lstrip("#").strip().split(",")
        for row in csv.DictReader(fp, fieldnames=head):
            ends = frozenset([(row["src_ip"], int(row["src_port"])),
                              (row["dst_ip"], int(row["dst_port"]))])
            n = int(row["c_to_s_pkts"]) + int(row["s_to_c_pkts"])
            cands = [f for f in by.get((int(row["protocol"]), ends, n), []) if not f.csv]
            if cands:
                cands[0].csv = row


def run_nfsensord(nfsensord, pcap, out_csv):
    r = subprocess.run([nfsensord, "--read", pcap, "--csv", out_csv] + NFSENSORD_ARGS,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    rows = []
    if os.path.exists(out_csv):
        with open(out_csv, newline="") as f:
            rows = list(csv.DictReader(f))
    return r.returncode, r.stderr.decode(errors="replace").strip(), rows


def our_key(row):
    return (int(row["vlan_id"]), int(row["protocol"]),
            frozenset([(ndpi_ip(row["src_ip"]), int(row["src_port"])),
                       (ndpi_ip(row["dst_ip"]), int(row["dst_port"]))]))


class Reasons:
    """Known causes of a difference, each checked against the data before it is given."""

    def __init__(self, shared):
        self.root = os.path.join(shared, "pcaps", "corpus")
        self.protos = []
        path = os.path.join(self.root, "ndpi42", "config", "protos.txt")
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                self.protos = [(i + 1, l.strip()) for i, l in enumerate(f)]
        self.plain = {}

    def plain_app(self, capture, ref):
        """ndpiReader's application for the flow when run without configuration files."""
        if capture not in self.plain:
            path = os.path.join(self.root, "ndpi42-plain", capture + ".out")
            self.plain[capture] = {f.key: f.app for f in read_out(path)} \
                if os.path.exists(path) else {}
        return self.plain[capture].get(ref.key)

    def protos_rule(self, ref):
        ports = {str(p) for _, p in ref.ends}
        for n, line in self.protos:
            rule, _, app = line.partition("@")
            if app.strip() == ref.app and any(
                    tok.split(":")[-1] in ports for tok in rule.split(",") if ":" in tok):
                return n, line
        return None

    def app(self, capture, ref, ours, stopped):
        if ours is None:
            if stopped:
                return "nfsensord did not meter it: its reader stops at a corrupt record " \
                       "that libpcap still hands to ndpiReader (%s)" % stopped
            return None
        rule = self.protos_rule(ref)
        plain = self.plain_app(capture, ref)
        if rule and plain == ours:
            return ("ndpiReader's test configuration protos.txt line %d \"%s\" (a custom "
                    "protocol file; nfsensor, like NFStream, loads none); ndpiReader without "
                    "configuration files (ndpi42-plain) says %s too" % (rule[0], rule[1], plain))
        return None

    @staticmethod
    def field(name, ref, ours):
        if name == "requested_server_name" and ref.app.split(".")[-1] == "SSH" and \
                ours["application_name"].split(".")[-1] == "SSH":
            return "ndpiReader shows the SSH client's banner as Hostname/SNI " \
                   "(reader_util.c copies protos.ssh.client_signature there), not nDPI's " \
                   "host_server_name"
        return None


def ref_fields(ref):
    """(our column, ndpiReader's value, source) for every value ndpiReader printed."""
    c = ref.csv
    pairs = [
        ("requested_server_name", c.get("server_name_sni") if c else
         out_value(ref.rest, "Hostname/SNI"), "csv server_name_sni" if c else ".out Hostname/SNI"),
        ("client_fingerprint", c.get("ja3c") if c else out_value(ref.rest, "JA3C").split(" ")[0],
         "csv ja3c" if c else ".out JA3C"),
        ("server_fingerprint", c.get("ja3s") if c else out_value(ref.rest, "JA3S").split(" ")[0],
         "csv ja3s" if c else ".out JA3S"),
        ("client_fingerprint", c.get("ssh_client_hassh") if c else
         out_value(ref.rest, "HASSH-C"), "csv ssh_client_hassh" if c else ".out HASSH-C"),
        ("server_fingerprint", c.get("ssh_server_hassh") if c else
         out_value(ref.rest, "HASSH-S"), "csv ssh_server_hassh" if c else ".out HASSH-S"),
        ("client_fingerprint", out_value(ref.rest, "DHCP Fingerprint"), ".out DHCP Fingerprint"),
        ("user_agent", "[User-Agent: " if "[User-Agent: " in ref.rest else "", ".out User-Agent"),
        ("content_type", "[Content-Type: " if "[Content-Type: " in ref.rest else "",
         ".out Content-Type"),
    ]
    return [(col, val, src) for col, val, src in pairs if val]


def field_equal(ref, col, val, ours):
    if val == "[User-Agent: ":
        return out_has(ref.rest, "User-Agent", ours[col])
    if val == "[Content-Type: ":
        return out_has(ref.rest, "Content-Type", ours[col])
    return ours[col] == val


class Capture:
    def __init__(self, name):
        self.name = name
        self.flows = self.agree = 0
        self.app_diffs = []      # (text, reason or None)
        self.field_checked = self.field_equal = 0
        self.field_diffs = []    # (text, reason or None)
        self.only_ours = 0


def compare(cap, refs, rows, reasons, stopped):
    ours = defaultdict(list)
    for row in rows:
        ours[our_key(row)].append(row)
    seen = set()
    for ref in refs:
        cap.flows += 1
        mine = ours.get(ref.key, [])
        seen.add(ref.key)
        got = next((r for r in mine if r["application_name"] == ref.app), None)
        if got is not None:
            cap.agree += 1
        else:
            app = mine[0]["application_name"] if mine else None
            why = reasons.app(cap.name, ref, app, stopped)
            cap.app_diffs.append(("%s: nfsensor %s, ndpiReader %s (%s)" % (
                ref.text, app or "(no flow)", ref.app, ref.confidence), why))
        row = got or (mine[0] if mine else None)
        if row is None:
            continue
        for col, val, src in ref_fields(ref):
            cap.field_checked += 1
            if field_equal(ref, col, val, row):
                cap.field_equal += 1
                continue
            shown = out_value(ref.rest, src.split(" ", 1)[1]) if val.startswith("[") else val
            cap.field_diffs.append(("%s: %s %r, ndpiReader %s %r" % (
                ref.text, col, row[col], src, shown), reasons.field(col, ref, row)))
    cap.only_ours = sum(len(v) for k, v in ours.items() if k not in seen)


def capture_path(root, name):
    path = os.path.join(root, name)
    return path if os.path.exists(path) else os.path.join(root, "derived", name)


def run_one(nfsensord, root, name, tmp, reasons):
    ref_dir = os.path.join(root, "ndpi42")
    refs = read_out(os.path.join(ref_dir, name + ".out"))
    if os.path.exists(os.path.join(ref_dir, name + ".csv")):
        join_csv(os.path.join(ref_dir, name + ".csv"), refs)
    rc, err, rows = run_nfsensord(nfsensord, capture_path(root, name),
                                  os.path.join(tmp, name + ".csv"))
    cap = Capture(name)
    compare(cap, refs, rows, reasons, err if rc != 0 else None)
    return cap


def report(caps, quiet):
    print("application per flow, nfsensord %s vs ndpiReader 4.2:" % " ".join(NFSENSORD_ARGS))
    print("%-44s %6s %6s %8s %14s" % ("capture", "flows", "agree", "%", "fields equal"))
    for c in caps:
        if c.flows and (not quiet or c.agree != c.flows or c.field_diffs):
            print("%-44s %6d %6d %7.2f%% %7d/%-6d" % (c.name, c.flows, c.agree,
                                                      100.0 * c.agree / c.flows,
                                                      c.field_equal, c.field_checked))
    print("\napplication disagreements:")
    for c in caps:
        for text, why in c.app_diffs:
            print("  %s: %s\n      reason: %s" % (c.name, text, why or "UNEXPLAINED"))
    print("\nother field differences:")
    for c in caps:
        for text, why in c.field_diffs:
            print("  %s: %s\n      reason: %s" % (c.name, text, why or "UNEXPLAINED"))
    extra = [(c.name, c.only_ours) for c in caps if c.only_ours]
    if extra:
        print("\nflows only nfsensord meters (not part of the agreement; ndpiReader 4.2 skips "
              "IPv4 packets captured shorter than their total length, NFStream and nfsensor "
              "meter them):\n  " + ", ".join("%s %d" % e for e in extra))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    quiet = "--quiet" in sys.argv
    nfsensord, shared = args[:2]
    root = os.path.join(shared, "pcaps", "corpus")
    ref_dir = os.path.join(root, "ndpi42")
    if not os.path.isdir(ref_dir):
        print("skip: no ndpiReader reference in", ref_dir)
        return 77
    names = sorted(n[:-4] for n in os.listdir(ref_dir) if n.endswith(".out"))
    reasons = Reasons(shared)
    with tempfile.TemporaryDirectory() as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            jobs = [pool.submit(run_one, nfsensord, root, n, tmp, reasons) for n in names]
            caps = [j.result() for j in jobs]
    report(caps, quiet)
    flows = sum(c.flows for c in caps)
    agree = sum(c.agree for c in caps)
    checked = sum(c.field_checked for c in caps)
    equal = sum(c.field_equal for c in caps)
    explained = sum(1 for c in caps for _, why in c.field_diffs if why)
    unexplained = sum(1 for c in caps for _, why in c.field_diffs if not why)
    pct = 100.0 * agree / flows if flows else 0.0
    print("\ntotal: %d/%d flows agree on the application (%.2f%%, %d captures); "
          "%d/%d other fields equal, %d differ with a known reason, %d unexplained"
          % (agree, flows, pct, len(caps), equal, checked, explained, unexplained))
    return 0 if pct >= THRESHOLD and unexplained == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
