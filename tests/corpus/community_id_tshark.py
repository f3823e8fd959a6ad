#!/usr/bin/python3
"""Community ID: nfsensord's community_id column equals tshark's communityid for every flow of
the shared captures (corpus/ and nfstream/) that tshark hashes.

For each capture, nfsensord writes its CSV (default profile: community_id on, seed 0), and
tshark (`--enable-protocol communityid`) prints every packet's addresses, protocol, ports, time
and Community ID. A flow's id is its first packet's (src to dst at bidirectional_first_seen_ms):
that packet is looked up in tshark's output and the two ids compared. A flow tshark gives no id
(a protocol it does not hash) is not counted; a flow whose first packet tshark decodes
differently (no packet with that 5-tuple at that millisecond) is counted as "unmatched" and
listed. A different id fails the test unless one of two known reasons explains it (both printed):
  tunnel     the flow is a tunnel's inner flow (tunnel_id > 0): nfsensor meters the innermost
             packet, tshark's hash follows the layers it decodes, which may be the outer ones;
  no ports   a TCP/UDP flow whose key has ports 0: nfsensor (as NFStream) takes no ports from a
             fragment or a header shorter than TCP's 20 / UDP's 8 bytes; tshark reassembles
             or reads what is there.
Prints matched/total per capture and in all.

usage: community_id_tshark.py NFSENSORD SHARED_DIR [--all]   (77 = skip: no corpus or tshark)
Without --all, captures over 2 MB are left out (listed) to keep the test within CI time.
"""
import concurrent.futures
import csv
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile

MAX_BYTES = 2 << 20
TSHARK_FIELDS = ["frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto",
                 "ipv6.nxt", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
                 "communityid"]


def captures(shared):
    for sub in ("corpus", "nfstream"):
        root = os.path.join(shared, "pcaps", sub)
        for dirpath, _, files in sorted(os.walk(root)):
            for f in sorted(files):
                if f.endswith((".pcap", ".pcapng", ".cap")):
                    yield os.path.join(dirpath, f)


def last(v):
    """The innermost of a repeated field (tshark joins repeats with commas)."""
    return v.split(",")[-1] if v else ""


def layer(proto):
    """Which of the repeated IP headers is the packet's own: the innermost, except that an
    ICMP error quotes the header of the packet it answers after its own."""
    protos = proto.split(",")
    for i, p in enumerate(protos):
        if p in ("1", "58"):
            return i
    return len(protos) - 1


def nth(v, i):
    parts = v.split(",") if v else [""]
    return parts[min(i, len(parts) - 1)]


def norm_ip(v):
    try:
        return str(ipaddress.ip_address(v))
    except ValueError:
        return v


def epoch_ms(v):
    sec, _, frac = v.partition(".")
    return int(sec) * 1000 + int((frac + "000")[:3])


def tshark_packets(pcap):
    """{(src, dst, proto, sport, dport, ms): communityid of the first such packet}."""
    cmd = ["tshark", "-n", "-r", pcap, "--enable-protocol", "communityid", "-T", "fields",
           "-E", "separator=/t"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=600)
    out = {}
    for line in r.stdout.decode(errors="replace").splitlines():
        v = dict(zip(TSHARK_FIELDS, line.split("\t")))
        if not v.get("communityid") or not v.get("frame.time_epoch"):
            continue
        # The innermost IP header of either version: the one whose fields come last.
        v6 = bool(v.get("ipv6.src")) and (not v.get("ip.src") or
                                          line.rfind(v["ipv6.src"]) > line.rfind(v["ip.src"]))
        protos = v["ipv6.nxt"] if v6 else v["ip.proto"]
        i = layer(protos)
        src = nth(v["ipv6.src"] if v6 else v["ip.src"], i)
        dst = nth(v["ipv6.dst"] if v6 else v["ip.dst"], i)
        proto = nth(protos, i)
        sport = last(v.get("tcp.srcport") or v.get("udp.srcport") or "0")
        dport = last(v.get("tcp.dstport") or v.get("udp.dstport") or "0")
        if proto in ("1", "58"):
            sport = dport = "0"
        out.setdefault(key_of(src, dst, proto, sport, dport, v["frame.time_epoch"]),
                       nth(v["communityid"], 0 if proto in ("1", "58") else 99))
    out.pop(None, None)
    return out


def key_of(src, dst, proto, sport, dport, t):
    try:
        return (norm_ip(src), norm_ip(dst), int(proto), int(sport), int(dport), epoch_ms(t))
    except ValueError:
        return None



def explain(f):
    if f["tunnel_id"] not in ("", "0"):
        return "tunnel"
    if f["protocol"] in ("6", "17") and f["src_port"] == "0" and f["dst_port"] == "0":
        return "no ports"
    return None


def check(nfsensord, pcap, tmp):
    name = os.path.relpath(pcap, os.path.dirname(os.path.dirname(pcap)))
    out = os.path.join(tmp, name.replace("/", "_") + ".csv")
    r = subprocess.run([nfsensord, "--read", pcap, "--csv", out], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=600)
    if r.returncode not in (0, 1) or not os.path.exists(out):
        return name, None, "nfsensord exit %d: %s" % (r.returncode, r.stderr.decode()[:300])
    packets = tshark_packets(pcap)
    # tshark hashes what it decodes; keys with ports zeroed match ICMP, SCTP and other
    # protocols whose ports nfsensor's flow key does not hold.
    by_proto = {(k[0], k[1], k[2], k[5]): c for k, c in packets.items()}
    res = {"flows": 0, "hashed": 0, "matched": 0, "unmatched": [], "wrong": [], "explained": [],
           "by_proto": {}}
    for f in csv.DictReader(open(out)):
        res["flows"] += 1
        ms = int(f["bidirectional_first_seen_ms"])
        key = (norm_ip(f["src_ip"]), norm_ip(f["dst_ip"]), int(f["protocol"]),
               int(f["src_port"]), int(f["dst_port"]), ms)
        theirs = packets.get(key)
        if theirs is None and key[3] == 0 and key[4] == 0:
            theirs = by_proto.get((key[0], key[1], key[2], ms))
        if theirs is None:
            res["unmatched"].append("%s:%s > %s:%s proto %s at %d (tunnel %s)" %
                                    (key[0], key[3], key[1], key[4], key[2], ms,
                                     f["tunnel_id"]))
            continue
        res["hashed"] += 1
        if theirs == f["community_id"]:
            res["matched"] += 1
            res["by_proto"][f["protocol"]] = res["by_proto"].get(f["protocol"], 0) + 1
        else:
            why = explain(f)
            res["explained" if why else "wrong"].append(
                "%s:%s > %s:%s proto %s: nfsensor %s, tshark %s%s" %
                (key[0], key[3], key[1], key[4], key[2], f["community_id"], theirs,
                 " (explained: %s)" % why if why else ""))
    return name, res, None


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    nfsensord, shared = sys.argv[1:3]
    everything = "--all" in sys.argv[3:]
    if not os.path.isdir(os.path.join(shared, "pcaps")):
        print("skip: no corpus at", os.path.join(shared, "pcaps"))
        return 77
    if shutil.which("tshark") is None:
        print("skip: tshark not found")
        return 77
    chosen, left_out = [], []
    for p in captures(shared):
        (chosen if everything or os.path.getsize(p) <= MAX_BYTES else left_out).append(p)
    for p in left_out:
        print("left out (over %d bytes): %s" % (MAX_BYTES, p))
    total = {"captures": 0, "flows": 0, "hashed": 0, "matched": 0, "unmatched": 0, "wrong": 0,
             "explained": 0}
    failed = []
    by_proto = {}
    with tempfile.TemporaryDirectory(prefix="nfs-labels-cid-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            jobs = [pool.submit(check, nfsensord, p, tmp) for p in chosen]
            for job in jobs:
                name, res, err = job.result()
                if err:
                    print("%-55s ERROR %s" % (name, err))
                    failed.append(name)
                    continue
                total["captures"] += 1
                for k in ("flows", "hashed", "matched"):
                    total[k] += res[k]
                total["unmatched"] += len(res["unmatched"])
                total["wrong"] += len(res["wrong"])
                total["explained"] += len(res["explained"])
                for p, n in res["by_proto"].items():
                    by_proto[p] = by_proto.get(p, 0) + n
                print("%-55s %d/%d matched (%d flows, %d without a tshark packet)" %
                      (name, res["matched"], res["hashed"], res["flows"],
                       len(res["unmatched"])))
                for w in res["wrong"]:
                    print("    WRONG %s" % w)
                for w in res["explained"]:
                    print("    differs %s" % w)
                for u in res["unmatched"][:5]:
                    print("    unmatched %s" % u)
                if res["wrong"]:
                    failed.append(name)
    print("community_id: %d captures (%d left out), %d flows: %d/%d matched tshark, "
          "%d differ for a known reason, %d wrong; %d flows without a tshark packet at their "
          "first millisecond" %
          (total["captures"], len(left_out), total["flows"], total["matched"], total["hashed"],
           total["explained"], total["wrong"], total["unmatched"]))
    print("matched by IP protocol: " +
          ", ".join("%s: %d" % (p, by_proto[p]) for p in sorted(by_proto, key=int)))
    if total["hashed"] == 0:
        print("FAIL: no flow compared")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
