#!/usr/bin/python3
"""
test_profile_anonymize.py NFSENSORD SOURCE_DIR CRYPTOPAN_MAP

`anonymize: {key_file: ...}` end to end. Per capture (pcapgen's: IPv4 and IPv6; real ones from
../shared/pcaps when present) one nfsensord run with two collectors, one raw (nfcapd) and one
anonymised (a UDP catcher keeping every datagram, decoded with python3-ipfix), and the raw CSV:
  - nfdump's flows have the CSV's addresses (the raw feed is untouched);
  - the anonymised feed's bytes hold none of the CSV's addresses (IPv4 4 bytes, IPv6 16);
  - its flows are the CSV's flows with both addresses mapped by cryptopan_map (lib/cryptopan.c
    driven directly) and everything else (ports, protocol, packets both ways) unchanged;
  - a second run with the same key gives the same anonymised addresses, and its CSV
    (output.anonymize with that key) holds the mapped addresses too.
A key file with mode 0644 is refused (exit 78, FILE:LINE:COLUMN naming the key), for a
collector and for output.anonymize.
"""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402
import profiles_util as U  # noqa: E402


def mapping(tool, key, addrs):
    addrs = sorted(addrs)
    r = subprocess.run([tool, key], input="\n".join(addrs) + "\n", capture_output=True,
                       text=True, check=True)
    return dict(zip(addrs, r.stdout.split()))


def packed(a):
    return socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a)


def decode_ipfix(payloads):
    import ipfix.message
    T.ipfix_model()
    msg, recs = ipfix.message.MessageBuffer(), []
    for d in payloads:
        msg.from_bytes(d)
        recs.extend(msg.namedict_iterator())
    return T.flows_from_namedicts(recs)


def flow_key(f, amap=None):
    m = amap or {}
    return (m.get(f["src_ip"], f["src_ip"]), f["src_port"], m.get(f["dst_ip"], f["dst_ip"]),
            f["dst_port"], f["protocol"], f["s2d"]["packets"], f["d2s"]["packets"])


def csv_flow(r):
    return {"src_ip": T._ip(r["src_ip"]), "dst_ip": T._ip(r["dst_ip"]),
            "src_port": int(r["src_port"]), "dst_port": int(r["dst_port"]),
            "protocol": int(r["protocol"]), "s2d": {"packets": int(r["src2dst_packets"])},
            "d2s": {"packets": int(r["dst2src_packets"])}}


def run_once(ck, daemon, tmp, name, pcap, key, anon_csv):
    raw = U.Nfcapd(ck, tmp, name + "-raw")
    catcher = U.UdpCatcher()
    csv_path = U.run_daemon(
        ck, daemon, tmp, name, pcap,
        "collectors:\n  - address: 127.0.0.1:%d\n  - address: 127.0.0.1:%d\n"
        "    anonymize:\n      key_file: %s\n" % (raw.port, catcher.port, key),
        "  anonymize:\n    key_file: %s\n" % key if anon_csv else "")
    catcher.finish()
    nf = [U.nfdump_flow(x) for x in raw.records()]
    rows = [csv_flow(x) for x in U.csv_flows(csv_path)]
    return nf, catcher.payloads, decode_ipfix(catcher.payloads), rows


def check_capture(ck, daemon, tool, tmp, name, pcap, key):
    nf, payloads, anon, rows = run_once(ck, daemon, tmp, name + "-1", pcap, key, False)
    addrs = {a for f in rows for a in (f["src_ip"], f["dst_ip"])}
    amap = mapping(tool, key, addrs)
    ck.info("%s: %d flows, %d addresses (%d IPv6), %d datagrams anonymised" % (
        name, len(rows), len(addrs), len([a for a in addrs if ":" in a]), len(payloads)))
    ck.check("%s: raw collector (nfdump) has the CSV's original address pairs" % name,
             sorted((f["src_ip"], f["dst_ip"]) for f in nf) ==
             sorted((f["src_ip"], f["dst_ip"]) for f in rows) and len(rows) > 0)
    blob = b"".join(payloads)
    # 0.0.0.0 and 255.255.255.255 (DHCP) are four equal bytes, which any message holds (zero
    # counters, padding); that they were mapped is checked on the decoded flows below.
    searched = [a for a in addrs if len(set(packed(a))) > 1]
    found = sorted(a for a in searched if packed(a) in blob)
    ck.check("%s: anonymised feed's bytes hold none of the %d original addresses" % (
        name, len(searched)), not found and len(blob) > 0 and searched, "found %s" % found[:5])
    ck.check("%s: every address was changed by the mapping" % name,
             all(amap[a] != a for a in addrs))
    want = sorted(flow_key(f, amap) for f in rows)
    got = sorted(flow_key(f) for f in anon)
    ck.check("%s: anonymised flows = CSV flows with cryptopan_map's addresses (%d flows)" % (
        name, len(want)), want == got,
        "missing %s; unexpected %s" % ([x for x in want if x not in got][:3],
                                       [x for x in got if x not in want][:3]))
    _, payloads2, anon2, rows2 = run_once(ck, daemon, tmp, name + "-2", pcap, key, True)
    ck.check("%s: second run, same key: the same anonymised flows" % name,
             sorted(flow_key(f) for f in anon2) == got)
    ck.check("%s: CSV with output.anonymize holds the mapped addresses" % name,
             sorted(flow_key(f) for f in rows2) == want)


def refusals(ck, daemon, tmp):
    loose = os.path.join(tmp, "loose.key")
    with open(loose, "w") as f:
        f.write("ab" * 32 + "\n")
    os.chmod(loose, 0o644)
    for what, text, line, col in (
            ("collector", "collectors:\n  - address: 127.0.0.1:4739\n    anonymize:\n"
             "      key_file: %s\n" % loose, 4, 17),
            ("output.anonymize", "output:\n  csv: x.csv\n  anonymize:\n    key_file: %s\n" %
             loose, 4, 15)):
        conf = os.path.join(tmp, "loose-%s.yaml" % what.replace(".", "-"))
        with open(conf, "w") as f:
            f.write(text)
        r = T.run([daemon, "--check-config", "--config", conf])
        err = r.stderr.decode("utf-8", "replace")
        ck.check("%s: key file mode 0644 refused, exit 78 at %s:%d:%d" % (what, conf, line, col),
                 r.returncode == 78 and "%s:%d:%d:" % (conf, line, col) in err and
                 "key_file" in err, "rc %d: %s" % (r.returncode, T.tail(err)))


def owner_checks(ck, daemon, tmp):
    """Started as root with user:, the daemon reads the key again as that user on reload: the
    key must be that user's (root only: chown)."""
    if os.geteuid() != 0:
        ck.info("not root: the user: owner rule is not checked")
        return
    import pwd
    nobody = pwd.getpwnam("nobody")
    for owner, ok in ((nobody.pw_uid, True), (0, False)):
        key = os.path.join(tmp, "owner-%d.key" % owner)
        with open(key, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(key, 0o600)
        os.chown(key, owner, -1)
        conf = os.path.join(tmp, "owner-%d.yaml" % owner)
        with open(conf, "w") as f:
            f.write("user: nobody\ncollectors:\n  - address: 127.0.0.1:4739\n    anonymize:\n"
                    "      key_file: %s\n" % key)
        r = T.run([daemon, "--check-config", "--config", conf])
        err = r.stderr.decode("utf-8", "replace")
        ck.check("user: nobody, key owned by uid %d: %s" % (owner, "accepted" if ok else
                                                            "refused, exit 78 at %s:3:5" % conf),
                 r.returncode == 0 if ok else (r.returncode == 78 and "%s:3:5:" % conf in err
                                               and "chown nobody" in err),
                 "rc %d: %s" % (r.returncode, T.tail(err)))


def main():
    daemon = T.need_daemon()
    if len(sys.argv) < 4:
        T.skip("usage: test_profile_anonymize.py NFSENSORD SOURCE_DIR CRYPTOPAN_MAP")
    tool = sys.argv[3]
    T.need_tool("nfcapd")
    T.need_tool("nfdump")
    try:
        import ipfix.message  # noqa: F401
    except ImportError:
        T.skip("python3-ipfix not installed")
    ck = T.Checker("test_profile_anonymize")
    with T.tempdir("profile-anon") as tmp:
        key = os.path.join(tmp, "cryptopan.key")
        with open(key, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(key, 0o600)
        pcaps, _ = T.generate(tmp)
        check_capture(ck, daemon, tool, tmp, "generated", pcaps[0], key)
        for pcap in U.real_captures():
            check_capture(ck, daemon, tool, tmp, os.path.basename(pcap).split(".")[0], pcap, key)
        refusals(ck, daemon, tmp)
        owner_checks(ck, daemon, tmp)
    ck.finish()


if __name__ == "__main__":
    main()
