#!/usr/bin/python3
"""
test_cli.py NFSENSORD [SOURCE_DIR]

nfsensord's command line, end to end:
 1. an unreadable (missing) --read file: non-zero exit, and the message names the file;
 2. a pcap cut in the middle of a record: a message naming the file, non-zero exit, and every
    flow of the packets before the cut still in the --write output (end of input, reason 4);
 3. two --read files are one continuous stream: a TCP flow and the capture's clock go on
    across the file boundary (same flows as the single file);
 4. `--write -` writes IPFIX to stdout (decodes with python3-ipfix, same flows);
 5. link types RAW, NULL and LINUX_SLL give the same flows (MACs zero);
 6. --csv: NFStream's columns, compared with the expected flows (expiration_id included) for
    both profiles, and --accounting-mode 0..3 (the *_bytes columns and
    accountedOctetDeltaCount in IPFIX);
 7. --max-flows 2 with three flows: the least recently seen one is evicted (flowEndReason 5,
    expiration_id 3).
"""
import csv
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402

CSV_CORE = ["id", "expiration_id", "src_ip", "src_mac", "src_oui", "src_port", "dst_ip",
            "dst_mac", "dst_oui", "dst_port", "protocol", "ip_version", "vlan_id", "tunnel_id"]
DIRS = (("bidirectional", None), ("src2dst", "s2d"), ("dst2src", "d2s"))
DIR_COLS = ("first_seen_ms", "last_seen_ms", "duration_ms", "packets", "bytes")


def ipfix_flows_from_bytes(data):
    import ipfix.reader
    T.ipfix_model()
    recs = list(ipfix.reader.from_stream(io.BytesIO(data)).namedict_iterator())
    return T.flows_from_namedicts(recs)


def ipfix_flows_from_file(ck, label, path):
    try:
        return T.flows_from_namedicts(T.read_ipfix_file(path))
    except Exception as e:
        ck.check("%s: python3-ipfix reads %s" % (label, path), False, repr(e))
        return []


def csv_flows(ck, label, path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
        header = rows and list(rows[0].keys()) or []
    want = list(CSV_CORE)
    for d, _ in DIRS:
        want += ["%s_%s" % (d, c) for c in DIR_COLS]
    ck.check("%s: CSV header starts with NFStream's core columns" % label,
             header[:len(want)] == want,
             "got %s" % header[:len(want)])
    ids = sorted(int(r["id"]) for r in rows)
    ck.check("%s: CSV ids are 0..n-1" % label, ids == list(range(len(rows))), str(ids))
    flows = []
    for r in rows:
        f = {"src_ip": T._ip(r["src_ip"]), "dst_ip": T._ip(r["dst_ip"]),
             "src_mac": r["src_mac"].lower(), "dst_mac": r["dst_mac"].lower(),
             "src_port": int(r["src_port"]), "dst_port": int(r["dst_port"]),
             "protocol": int(r["protocol"]), "ip_version": int(r["ip_version"]),
             "vlan_id": int(r["vlan_id"]), "tunnel_id": int(r["tunnel_id"]),
             "expiration_id": int(r["expiration_id"]),
             "bidir_first_ms": int(r["bidirectional_first_seen_ms"])}
        for d, short in DIRS:
            x = {c: int(r["%s_%s" % (d, c)]) for c in DIR_COLS}
            if short:
                x.pop("duration_ms")
                f[short] = x
            else:
                f["bidir"] = x
        bad = []
        if r["src_oui"].lower() != f["src_mac"][:8]:
            bad.append("src_oui %s" % r["src_oui"])
        if r["dst_oui"].lower() != f["dst_mac"][:8]:
            bad.append("dst_oui %s" % r["dst_oui"])
        for d, short in DIRS:
            x = f["bidir"] if not short else dict(f[short], duration_ms=None)
            dur = int(r["%s_duration_ms" % d])
            if dur != int(r["%s_last_seen_ms" % d]) - int(r["%s_first_seen_ms" % d]):
                bad.append("%s_duration_ms %d" % (d, dur))
        b = f["bidir"]
        if b["packets"] != f["s2d"]["packets"] + f["d2s"]["packets"] or \
                b["bytes"] != f["s2d"]["bytes"] + f["d2s"]["bytes"]:
            bad.append("bidirectional packets/bytes are not the sum of the directions")
        if bad:
            ck.check("%s: CSV row %s consistent" % (label, r["id"]), False, "; ".join(bad))
        flows.append(f)
    return flows


def main():
    daemon = T.need_daemon()
    try:
        import ipfix.reader  # noqa: F401
    except ImportError:
        T.skip("python3-ipfix not installed")
    ck = T.Checker("test_cli")
    with T.tempdir("cli") as tmp:
        pcaps, doc = T.generate(tmp)
        pcap = pcaps[0]
        exp_default = T.expected_for(doc, "default")

        # 1. missing input
        missing = os.path.join(tmp, "no-such-capture.pcap")
        r = T.run([daemon, "--read", missing, "--write", os.path.join(tmp, "x.ipfix")])
        err = r.stderr.decode("utf-8", "replace")
        ck.check("missing input: non-zero exit", r.returncode not in (0, -9),
                 "rc %d" % r.returncode)
        ck.check("missing input: the message names the file", missing in err or
                 os.path.basename(missing) in err, "stderr: %s" % T.tail(err))

        # 2. truncated capture (N whole records, then half a record)
        cut = 45
        tdir = os.path.join(tmp, "trunc")
        tp, tdoc = T.generate(tdir, name="truncated", truncate_after=cut)
        out = os.path.join(tmp, "trunc.ipfix")
        r = T.run([daemon, "--read", tp[0], "--write", out] + T.daemon_args("default"))
        err = r.stderr.decode("utf-8", "replace")
        ck.check("truncated pcap: non-zero exit", r.returncode not in (0, -9),
                 "rc %d" % r.returncode)
        ck.check("truncated pcap: the message names the file",
                 tp[0] in err or os.path.basename(tp[0]) in err, "stderr: %s" % T.tail(err))
        ck.check("truncated pcap: --write output exists", os.path.exists(out))
        if os.path.exists(out):
            T.compare_flows(ck, "truncated pcap (%d whole packets)" % cut,
                            T.expected_for(tdoc, "default"),
                            ipfix_flows_from_file(ck, "truncated", out))

        # 3. two files, one stream: split inside the first TCP flow and inside the active one
        for split in (5, 44):
            sdir = os.path.join(tmp, "split%d" % split)
            sp, sdoc = T.generate(sdir, split_at=split)
            out = os.path.join(sdir, "out.ipfix")
            r = T.run([daemon, "--read", sp[0], "--read", sp[1], "--write", out] +
                      T.daemon_args("default"))
            ck.check("two --read files (split at packet %d): exit 0" % split,
                     r.returncode == 0, "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
            T.compare_flows(ck, "two files split at %d" % split, T.expected_for(sdoc, "default"),
                            ipfix_flows_from_file(ck, "split", out))

        # 4. --write - (IPFIX on stdout)
        r = T.run([daemon, "--read", pcap, "--write", "-"] + T.daemon_args("default"))
        ck.check("--write -: exit 0", r.returncode == 0,
                 "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
        ck.check("--write -: stdout starts with an IPFIX message header (version 10)",
                 r.stdout[:2] == b"\x00\x0a", "first bytes %r" % r.stdout[:16])
        try:
            flows = ipfix_flows_from_bytes(r.stdout)
        except Exception as e:
            ck.check("--write -: stdout decodes as IPFIX", False, repr(e))
            flows = []
        T.compare_flows(ck, "--write -", exp_default, flows)

        # 5. link types other than Ethernet (no VLAN scenarios; MACs are zeros)
        for lt in ("raw", "null", "sll"):
            ldir = os.path.join(tmp, "lt-" + lt)
            lp, ldoc = T.generate(ldir, linktype=T.pcapgen().LINKTYPES[lt])
            out = os.path.join(ldir, "out.ipfix")
            r = T.run([daemon, "--read", lp[0], "--write", out] + T.daemon_args("default"))
            ck.check("link type %s: exit 0" % lt, r.returncode == 0,
                     "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
            T.compare_flows(ck, "link type %s" % lt, T.expected_for(ldoc, "default"),
                            ipfix_flows_from_file(ck, "link type %s" % lt, out))

        # 6. CSV, both profiles; accounting modes
        for profile in ("default", "nfstream"):
            out = os.path.join(tmp, "flows-%s.csv" % profile)
            r = T.run([daemon, "--read", pcap, "--csv", out] + T.daemon_args(profile))
            ck.check("%s --csv: exit 0" % profile, r.returncode == 0,
                     "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
            if os.path.exists(out):
                T.compare_flows(ck, "%s/csv" % profile, T.expected_for(doc, profile),
                                csv_flows(ck, "%s/csv" % profile, out))
            else:
                ck.check("%s --csv: file written" % profile, False)
        for mode in (1, 2, 3):
            out = os.path.join(tmp, "mode%d.csv" % mode)
            ipf = os.path.join(tmp, "mode%d.ipfix" % mode)
            r = T.run([daemon, "--read", pcap, "--csv", out, "--write", ipf,
                       "--accounting-mode", str(mode)] + T.daemon_args("default"))
            ck.check("--accounting-mode %d: exit 0" % mode, r.returncode == 0,
                     "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
            exp = T.expected_for(doc, "default", mode)
            if os.path.exists(out):
                T.compare_flows(ck, "mode %d/csv" % mode, exp,
                                csv_flows(ck, "mode %d/csv" % mode, out),
                                dir_fields=["packets", "bytes"])
            ck.check("--accounting-mode %d: IPFIX written" % mode, os.path.exists(ipf))
            if os.path.exists(ipf):
                T.compare_flows(ck, "mode %d/ipfix" % mode, exp,
                                ipfix_flows_from_file(ck, "mode %d" % mode, ipf),
                                dir_fields=["packets", "bytes", "ip_octets"])

        # 7. --max-flows 2: the least recently seen flow is evicted (reason 5 / expiration_id 3)
        edir = os.path.join(tmp, "evict")
        ep, edoc = T.generate(edir, name="evict", only=["evict"])
        out, ecsv = os.path.join(edir, "out.ipfix"), os.path.join(edir, "out.csv")
        r = T.run([daemon, "--read", ep[0], "--write", out, "--csv", ecsv, "--max-flows", "2"] +
                  T.daemon_args("default"))
        ck.check("--max-flows 2: exit 0", r.returncode == 0,
                 "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
        exp = T.expected_for(edoc, "default")
        T.compare_flows(ck, "--max-flows 2/ipfix", exp, ipfix_flows_from_file(ck, "evict", out))
        if os.path.exists(ecsv):
            T.compare_flows(ck, "--max-flows 2/csv", exp, csv_flows(ck, "evict/csv", ecsv))
    ck.finish()


if __name__ == "__main__":
    main()
