#!/usr/bin/python3
"""
test_export_interop.py NFSENSORD [SOURCE_DIR [EXPORT_HARNESS]]

The interop matrix: ONE nfsensord run over the skeleton capture exports to every collector at
once (several collectors, each with its own transport, every one gets every record):
  ipfixDump   the --write file, and a TCP stream written to a file by socat (RFC 5655)
  python3-ipfix  UDP and TCP listeners
  nfcapd      UDP, read back with nfdump
  tshark      UDP captured on lo (dumpcap, filtered on the port), decoded with `tshark -r`
Each decoder's flows are compared with pcapgen's expected flows on the fields that collector
keeps (COLLECTORS.md); the statistics options records (RFC 7011 §4) are checked in the file.
A UDP collector nobody listens on must cost nothing: exit 0, nothing on stderr.
Prints the matrix at the end.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402
import test_nfdump as NF  # noqa: E402

PROFILE = "default"


def free_tcp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Matrix:
    def __init__(self, ck):
        self.ck, self.rows = ck, []

    def row(self, collector, transport, fields, fn):
        before = len(self.ck.failed)
        n = fn()
        failed = len(self.ck.failed) - before
        self.rows.append((collector, transport, n, fields, "ok" if failed == 0 else
                          "FAIL (%d)" % failed))

    def show(self, expected):
        print("\ninterop matrix (%d expected flows)" % expected)
        w = "%-15s %-9s %-9s %-6s %s"
        print(w % ("collector", "transport", "records", "result", "fields compared"))
        for c, t, n, f, r in self.rows:
            print(w % (c, t, "%s/%d" % (n, expected), r, f))
        print()
        sys.stdout.flush()


def tshark_flows(pdml_text):
    """Flows from tshark's PDML: reverse elements carry "Reverse" in their showname; the
    enterprise elements come as "Type N: Value (hex bytes)"; times as 8-byte hex values."""
    flows = []
    root = ET.fromstring(pdml_text)
    for el in root.iter("field"):
        if el.get("name") != "" or not (el.get("show") or "").startswith("Flow "):
            continue
        kids = list(el)
        if not any(k.get("name") == "cflow.flow_id" for k in kids):
            continue  # RFC 5610 and statistics records
        f = {"s2d": {}, "d2s": {}, "times": []}
        for k in kids:
            name, show, sn = k.get("name"), k.get("show"), k.get("showname") or ""
            rev = "Reverse" in sn
            d = f["d2s"] if rev else f["s2d"]
            if name in ("cflow.srcaddr", "cflow.srcaddrv6"):
                f["src_ip"] = T._ip(show)
            elif name in ("cflow.dstaddr", "cflow.dstaddrv6"):
                f["dst_ip"] = T._ip(show)
            elif name == "cflow.srcport":
                f["src_port"] = int(show)
            elif name == "cflow.dstport":
                f["dst_port"] = int(show)
            elif name == "cflow.protocol":
                f["protocol"] = int(show)
            elif name == "cflow.ip_version":
                f["ip_version"] = int(show)
            elif name == "cflow.vlanid":
                f["vlan_id"] = int(show)
            elif name == "cflow.srcmac":
                f["src_mac"] = show.lower()
            elif name == "cflow.dstmac":
                f["dst_mac"] = show.lower()
            elif name == "cflow.flow_end_reason":
                f["end_reason"] = int(show)
            elif name == "cflow.packets":
                d["packets"] = int(show)
            elif name == "cflow.octets":
                d["ip_octets"] = int(show)
            elif name == "cflow.tcpflags":
                d["tcp_flags"] = int(show, 16)
            elif name == "cflow.timedelta":
                f["times"].append(tuple(int(x.get("value"), 16) for x in k))
            elif name == "cflow.appl_name":
                f["application_name"] = show
            elif name == "cflow.enterprise_private_entry" and ("Type 100" in sn or
                                                               "Type 120" in sn):
                v = int(k.get("value"), 16)
                if "Type 1200:" in sn:
                    f["dpi_master_id"] = v
                elif "Type 1201:" in sn:
                    f["dpi_app_id"] = v
                elif "Type 1001:" in sn:
                    f["tunnel_id"] = v
                elif "Type 1002:" in sn:
                    f["s2d"]["bytes"] = v
                elif "Type 1003:" in sn:
                    f["d2s"]["bytes"] = v
        flows.append(f)
    return flows


def compare_tshark(ck, expected, flows):
    """Times: tshark does not mark the reverse pair, so both (start, end) pairs are compared
    as a set with the expected directions'."""
    for f in flows:
        times = sorted(f.pop("times"))
        for dname in ("s2d", "d2s"):
            if f[dname].get("packets") == 0:
                times = [t for t in times if t != (0, 0)]
        f["_times"] = times
    by = {}
    for e in expected:
        by.setdefault(T.match_key(dict(e)), e)
    exp_times = {}
    for e in expected:
        ts = [(e[d]["first_seen_ms"], e[d]["last_seen_ms"]) for d in ("s2d", "d2s")
              if e[d]["packets"]]
        exp_times[(e["src_ip"], e["src_port"], e["dst_ip"], e["dst_port"], e["protocol"],
                   e["vlan_id"], e["s2d"]["packets"])] = sorted(ts)
    for f in flows:
        times = f.pop("_times")
        k = (f.get("src_ip"), f.get("src_port"), f.get("dst_ip"), f.get("dst_port"),
             f.get("protocol"), f.get("vlan_id"), f["s2d"].get("packets"))
        if k in exp_times:
            want = exp_times[k]
            ck.check("tshark/udp: times of %s:%s->%s:%s" % k[:4],
                     [t for t in times if t in want] == want or times == want,
                     "got %s, expected %s" % (times, want))
        firsts = [t[0] for t in times if t[0]]
        f["bidir_first_ms"] = min(firsts) if firsts else 0
    T.compare_flows(ck, "tshark/udp", expected, flows)


def wait_bound(log, proc, word, timeout=5):
    t_end = time.time() + timeout
    while time.time() < t_end:
        log.seek(0)
        if word in log.read() or proc.poll() is not None:
            return proc.poll() is None
        time.sleep(0.1)
    return False


def main():
    daemon = T.need_daemon()
    tools = {t: T.need_tool(t) for t in ("ipfixDump", "socat", "nfcapd", "nfdump", "tshark",
                                         "dumpcap")}
    try:
        import ipfix.reader  # noqa: F401
    except ImportError:
        T.skip("python3-ipfix not installed")
    ck = T.Checker("test_export_interop")
    m = Matrix(ck)
    with T.tempdir("interop") as tmp:
        pcaps, doc = T.generate(tmp)
        expected = T.expected_for(doc, PROFILE)
        n_exp = len(expected)
        procs = []
        # --- receivers
        file_out = os.path.join(tmp, "out.ipfix")
        socat_out = os.path.join(tmp, "socat.ipfix")
        socat_port = free_tcp_port()
        socat = subprocess.Popen([tools["socat"], "-u",
                                  "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr" % socat_port,
                                  "CREATE:%s" % socat_out], start_new_session=True)
        procs.append(socat)
        py_tcp, py_udp = T.TcpIpfixReceiver(), T.UdpIpfixReceiver()
        py_tcp.start()
        py_udp.start()
        spool = os.path.join(tmp, "nfcapd")
        os.makedirs(spool)
        nf_port = T.free_udp_port()
        nf_log = open(os.path.join(tmp, "nfcapd.log"), "w+")
        nfcapd = subprocess.Popen([tools["nfcapd"], "-b", "127.0.0.1", "-p", str(nf_port), "-w",
                                   spool, "-t", "3600"], stdout=nf_log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(nfcapd)
        ts_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # no ICMP errors
        ts_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        ts_sock.bind(("127.0.0.1", 0))
        ts_port = ts_sock.getsockname()[1]
        cap = os.path.join(tmp, "udp.pcapng")
        dc_log = open(os.path.join(tmp, "dumpcap.log"), "w+")
        dumpcap = subprocess.Popen([tools["dumpcap"], "-i", "lo", "-f", "udp port %d" % ts_port,
                                    "-w", cap], stdout=dc_log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        procs.append(dumpcap)
        ok_nf = wait_bound(nf_log, nfcapd, "Startup")
        ok_dc = wait_bound(dc_log, dumpcap, "Capturing on")
        ck.check("nfcapd listening", ok_nf)
        ck.check("dumpcap capturing on lo", ok_dc)
        time.sleep(0.3)
        # --- one run, every collector
        cmd = [daemon, "--read", pcaps[0], "--write", file_out,
               "--collector", "tcp://127.0.0.1:%d" % socat_port,
               "--collector", "tcp://127.0.0.1:%d" % py_tcp.port,
               "--collector", "udp://127.0.0.1:%d" % py_udp.port,
               "--collector", "udp://127.0.0.1:%d" % nf_port,
               "--collector", "udp://127.0.0.1:%d" % ts_port] + T.daemon_args(PROFILE)
        r = T.run(cmd, timeout=120)
        ck.check("nfsensord with 6 collectors exits 0", r.returncode == 0,
                 "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
        py_udp.finish()
        py_tcp.finish()
        time.sleep(1.0)
        for p in (nfcapd, dumpcap):
            T.stop(p, signal.SIGINT if p is dumpcap else signal.SIGTERM)
        try:
            socat.wait(timeout=10)
        except subprocess.TimeoutExpired:
            T.stop(socat)
        ts_sock.close()

        # --- ipfixDump: file and TCP
        def ipfixdump(path, label):
            d = T.run([tools["ipfixDump"], "--rfc5610", "-i", path])
            ck.check("%s: ipfixDump reads it" % label, d.returncode == 0 and os.path.getsize(path),
                     "rc %d: %s" % (d.returncode, T.tail(d.stderr)))
            text = d.stdout.decode("utf-8", "replace")
            flows, named = T.flows_from_ipfixdump(text)
            ck.check("%s: enterprise elements named by RFC 5610 records" % label, named)
            T.check_complete(ck, label, flows)
            T.compare_flows(ck, label, expected, flows)
            return len(flows), text

        full = "all: 5-tuple, MACs, VLAN, tunnel, both directions' counters, times, flags"
        texts = {}

        def dump_file():
            n, texts["file"] = ipfixdump(file_out, "ipfixDump/file")
            return n
        m.row("ipfixDump", "file", full, dump_file)
        m.row("ipfixDump", "tcp", full + " (socat)", lambda: ipfixdump(socat_out,
                                                                      "ipfixDump/tcp")[0])

        # --- statistics options records in the file
        recs, _ = T.parse_ipfixdump(texts.get("file", ""))
        stats = [x for x in recs if (0, 42) in x]
        rel = [x for x in recs if (0, 166) in x]
        ck.check("statistics: metering statistics record (RFC 7011 §4.1) in the file",
                 bool(stats) and int(stats[-1][(0, 42)][1]) == n_exp,
                 "exportedFlowRecordTotalCount %s" % ([x[(0, 42)][1] for x in stats],))
        ck.check("statistics: exporting reliability record (§4.3), notSentFlowTotalCount 0",
                 bool(rel) and int(rel[-1][(0, 166)][1]) == 0,
                 "records %s" % ([x.get((0, 166)) for x in rel],))

        # --- python3-ipfix: UDP and TCP
        def pyipfix(rx, label):
            ck.check("%s: decodes without error" % label, not rx.errors, "; ".join(rx.errors[:3]))
            flows = T.flows_from_namedicts(rx.records)
            T.check_complete(ck, label, flows)
            T.compare_flows(ck, label, expected, flows)
            return len(flows)
        m.row("python3-ipfix", "udp", full, lambda: pyipfix(py_udp, "python3-ipfix/udp"))
        m.row("python3-ipfix", "tcp", full, lambda: pyipfix(py_tcp, "python3-ipfix/tcp"))

        # --- nfcapd
        def nfdump():
            nf_log.seek(0)
            stats_lines = [x for x in nf_log.read().splitlines() if "Sequence Errors" in x]
            ck.check("nfcapd/udp: no sequence errors", bool(stats_lines) and all(
                "Sequence Errors: 0," in x for x in stats_lines), "; ".join(stats_lines))
            d = T.run([tools["nfdump"], "-R", spool, "-o", "csv"], timeout=60)
            flows = NF.parse_nfdump_csv(d.stdout.decode("utf-8", "replace"))
            NF.compare_without_times(ck, "nfcapd/udp", expected, flows)
            return len(flows)
        m.row("nfcapd", "udp", "5-tuple, VLAN, packets and octets both ways", nfdump)

        # --- tshark
        def tshark():
            d = T.run([tools["tshark"], "-r", cap, "-d", "udp.port==%d,cflow" % ts_port,
                       "-T", "pdml"], timeout=120)
            ck.check("tshark/udp: tshark -r decodes the capture", d.returncode == 0,
                     T.tail(d.stderr))
            try:
                flows = tshark_flows(d.stdout.decode("utf-8", "replace"))
            except ET.ParseError as e:
                ck.check("tshark/udp: PDML parses", False, repr(e))
                return 0
            n = len(flows)
            compare_tshark(ck, expected, flows)
            return n
        m.row("tshark", "udp", "5-tuple, MACs, VLAN, tunnel, counters and flags both ways, "
              "times (unordered pairs)", tshark)

        # --- a UDP collector nobody listens on
        def absent():
            port = T.free_udp_port()
            t0 = time.time()
            r2 = T.run([daemon, "--read", pcaps[0], "--collector", "udp://127.0.0.1:%d" % port]
                       + T.daemon_args(PROFILE), timeout=60)
            dt = time.time() - t0
            ck.check("absent UDP collector: exit 0, nothing on stderr, %.1f s" % dt,
                     r2.returncode == 0 and not r2.stderr.strip() and dt < 10,
                     "rc %d: %s" % (r2.returncode, T.tail(r2.stderr)))
            return "-"
        m.row("(nobody)", "udp", "exit code, stderr, time", absent)
        nf_log.close()
        dc_log.close()
        m.show(n_exp)
    ck.finish()


if __name__ == "__main__":
    main()
