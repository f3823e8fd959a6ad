#!/usr/bin/python3
"""
test_nfdump.py NFSENSORD [SOURCE_DIR]

nfsensord --collector udp://127.0.0.1:PORT into nfcapd (nfdump 1.7), which is then stopped with
SIGTERM (it flushes its file) and read back with `nfdump -R DIR -o csv`. For every expected
flow (default and nfstream profile) compares what nfdump keeps (COLLECTORS.md): addresses,
ports, protocol, VLAN, forward packets/octets (ipkt/ibyt: packetDeltaCount, octetDeltaCount =
IP octets) and reverse packets/octets (opkt/obyt: reversePacketDeltaCount,
reverseOctetDeltaCount). nfdump reads PEN 29305 flags and times as the forward ones (it ignores
the PEN for them), so flags and times are not compared here.
"""
import csv
import io
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402

PROTO = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMP6": 58}


def parse_nfdump_csv(text):
    lines = []
    for line in text.splitlines():
        if line.startswith("Summary") or not line.strip():
            break
        lines.append(line)
    flows = []
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        pr = row["pr"].strip()
        proto = PROTO.get(pr, int(pr) if pr.isdigit() else pr)
        flows.append({
            "src_ip": T._ip(row["sa"].strip()), "dst_ip": T._ip(row["da"].strip()),
            "src_port": int(row["sp"]), "dst_port": int(row["dp"]), "protocol": proto,
            "vlan_id": int(row["svln"]),
            "s2d": {"packets": int(row["ipkt"]), "ip_octets": int(row["ibyt"])},
            "d2s": {"packets": int(row["opkt"]), "ip_octets": int(row["obyt"])},
        })
    return flows


def compare_without_times(ck, label, expected, observed):
    """nfdump's times are unreliable for biflows, so match by endpoints, protocol, vlan and
    the forward/reverse counters; report per expected flow."""
    def key(f):
        return (f["src_ip"], f["src_port"], f["dst_ip"], f["dst_port"], f["protocol"],
                f["vlan_id"], f["s2d"]["packets"], f["s2d"]["ip_octets"],
                f["d2s"]["packets"], f["d2s"]["ip_octets"])
    ck.check("%s: flow count %d" % (label, len(expected)), len(observed) == len(expected),
             "got %d" % len(observed))
    left = [key(o) for o in observed]
    for e in expected:
        k = key(e)
        if k in left:
            left.remove(k)
            ck.check("%s: %s %s:%s->%s:%s pkts %d/%d octets %d/%d" % (
                label, e["label"], e["src_ip"], e["src_port"], e["dst_ip"], e["dst_port"],
                k[6], k[8], k[7], k[9]), True)
        else:
            near = [x for x in left if set(x[:6]) and (x[0], x[2], x[4], x[5]) in
                    ((k[0], k[2], k[4], k[5]), (k[2], k[0], k[4], k[5]))]
            ck.check("%s: %s %s:%s->%s:%s pkts %d/%d octets %d/%d" % (
                label, e["label"], e["src_ip"], e["src_port"], e["dst_ip"], e["dst_port"],
                k[6], k[8], k[7], k[9]), False,
                "not found; nfdump rows with these hosts: %s" % (near,))
    for x in left:
        ck.check("%s: unexpected nfdump row" % label, False, str(x))


def main():
    nfcapd = T.need_tool("nfcapd")
    nfdump = T.need_tool("nfdump")
    daemon = T.need_daemon()
    ck = T.Checker("test_nfdump")
    with T.tempdir("nfdump") as tmp:
        pcaps, doc = T.generate(tmp)
        for profile in ("default", "nfstream"):
            spool = os.path.join(tmp, "spool-" + profile)
            os.makedirs(spool)
            port = T.free_udp_port()
            log = open(os.path.join(tmp, "nfcapd-%s.log" % profile), "w+")
            cap = subprocess.Popen([nfcapd, "-b", "127.0.0.1", "-p", str(port), "-w", spool,
                                    "-t", "3600"], stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
            # wait until nfcapd is bound
            bound = False
            for _ in range(50):
                time.sleep(0.1)
                log.seek(0)
                if "Startup" in log.read() or cap.poll() is not None:
                    bound = cap.poll() is None
                    break
            if not ck.check("%s: nfcapd started on 127.0.0.1:%d" % (profile, port), bound):
                T.stop(cap)
                continue
            r = T.run([daemon, "--read", pcaps[0], "--collector",
                       "udp://127.0.0.1:%d" % port] + T.daemon_args(profile))
            ck.check("%s: nfsensord exits 0" % profile, r.returncode == 0,
                     "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
            time.sleep(1.0)  # let nfcapd take the last datagrams off the socket
            rc = T.stop(cap)
            log.seek(0)
            logtext = log.read()
            log.close()
            ck.check("%s: nfcapd stops cleanly on SIGTERM" % profile, rc == 0,
                     "rc %s: %s" % (rc, T.tail(logtext)))
            stats = [x.strip() for x in logtext.splitlines() if "Sequence Errors" in x]
            ck.check("%s: nfcapd saw no sequence errors (IPFIX sequence numbers)" % profile,
                     bool(stats) and all("Sequence Errors: 0," in x for x in stats),
                     "; ".join(stats) or "no statistics line in nfcapd's log")
            d = T.run([nfdump, "-R", spool, "-o", "csv"], timeout=60)
            ck.check("%s: nfdump reads the spool" % profile, d.returncode == 0,
                     "rc %d: %s" % (d.returncode, T.tail(d.stderr)))
            observed = parse_nfdump_csv(d.stdout.decode("utf-8", "replace"))
            compare_without_times(ck, "%s/nfdump" % profile, T.expected_for(doc, profile),
                                  observed)
    ck.finish()


if __name__ == "__main__":
    main()
