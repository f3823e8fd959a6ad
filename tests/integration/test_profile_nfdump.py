#!/usr/bin/python3
"""
test_profile_nfdump.py NFSENSORD [SOURCE_DIR [EXPORT_HARNESS]]

Collector profiles `records: uniflow` and `format: netflow9` in real collectors. One nfsensord
run per capture (pcapgen's, and real captures from ../shared/pcaps when present), accounting
mode ip so the CSV's bytes are IP octets like octetDeltaCount, exports to:
  - nfcapd, IPFIX uniflow: nfdump's packets and bytes per key and direction equal the CSV's
    (src->dst with src2dst_*, dst->src with dst2src_*), and each record (endpoints, ports,
    protocol, packets, bytes, start and end times, flowDirection) equals one the CSV implies;
  - nfcapd, NetFlow v9: the same comparisons on nfdump's v9 records;
  - a UDP catcher, NetFlow v9: the datagrams written into a pcap and decoded by
    `tshark -d udp.port==P,cflow`, record by record (addresses, ports, protocol, packets, bytes,
    times, direction);
and the CSV sink (--csv). A v9 collector over TCP is refused at config time (exit 78).
Template refresh over UDP, NetFlow v9: export_harness sends 3000 flows (6000 uniflow records,
at 2000 flows/s: nfcapd loses datagrams to bursts on a busy machine)
with templates every 10 packets; every packet is a v9 packet whose header count is its
records, sequence numbers count packets, templates (flowset 0) come first and again after at
most 10 packets, and nfcapd stores all 6000 records.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402
import profiles_util as U  # noqa: E402

FIELDS = ("src_ip", "src_port", "dst_ip", "dst_port", "protocol", "packets", "bytes", "start",
          "end", "direction")


def run_capture(ck, daemon, tmp, name, pcap):
    uni = U.Nfcapd(ck, tmp, name + "-uniflow")
    v9 = U.Nfcapd(ck, tmp, name + "-netflow9")
    catcher = U.UdpCatcher()
    csv_path = U.run_daemon(
        ck, daemon, tmp, name, pcap,
        "flows:\n  accounting: ip\n  idle_timeout: %ds\n  active_timeout: %ds\n"
        "collectors:\n"
        "  - address: 127.0.0.1:%d\n    records: uniflow\n"
        "  - address: 127.0.0.1:%d\n    format: netflow9\n"
        "  - address: 127.0.0.1:%d\n    format: netflow9\n" % (
            T.IDLE_S, T.ACTIVE_S, uni.port, v9.port, catcher.port))
    catcher.finish()
    expected = U.uniflow_records(U.csv_flows(csv_path))
    ck.info("%s: %d CSV flows, %d uniflow records expected" % (
        name, len(U.csv_flows(csv_path)), len(expected)))
    for coll in (uni, v9):
        got = [U.nfdump_flow(x) for x in coll.records()]
        U.compare_totals(ck, coll.name + "/nfdump", expected, got)
        U.compare_records(ck, coll.name + "/nfdump", expected, got, FIELDS)
    cap = os.path.join(tmp, name + "-v9.pcap")
    catcher.write_pcap(cap)
    d = T.run([T.need_tool("tshark"), "-r", cap, "-d", "udp.port==%d,cflow" % catcher.port,
               "-T", "pdml"], timeout=300)
    ck.check("%s: tshark decodes the NetFlow v9 datagrams" % name, d.returncode == 0,
             T.tail(d.stderr))
    got = U.tshark_v9_records(d.stdout.decode("utf-8", "replace"))
    U.compare_records(ck, name + "-netflow9/tshark", expected, got, FIELDS)


def refused_over_tcp(ck, daemon, tmp):
    conf = os.path.join(tmp, "v9tcp.yaml")
    with open(conf, "w") as f:
        f.write("collectors:\n  - address: 127.0.0.1:4739\n    transport: tcp\n"
                "    format: netflow9\n")
    r = T.run([daemon, "--check-config", "--config", conf])
    err = r.stderr.decode("utf-8", "replace")
    ck.check("netflow9 over tcp: refused with exit 78 at the collector's line",
             r.returncode == 78 and "%s:2:" % conf in err and "UDP only" in err,
             "rc %d: %s" % (r.returncode, T.tail(err)))


def v9_packets(payloads):
    """(sequence, header count, records counted, has templates) per NetFlow v9 packet."""
    out = []
    for d in payloads:
        if len(d) < 20 or struct.unpack("!H", d[:2])[0] != 9:
            out.append(None)
            continue
        count, seq = struct.unpack("!H", d[2:4])[0], struct.unpack("!I", d[12:16])[0]
        off, recs, tmpl = 20, 0, False
        while off + 4 <= len(d):
            fs, ln = struct.unpack("!HH", d[off:off + 4])
            if fs == 0:
                tmpl = True
                p = off + 4
                while p + 4 <= off + ln:  # template records: id, field count, fields
                    recs += 1
                    p += 4 + 4 * struct.unpack("!H", d[p + 2:p + 4])[0]
            else:
                recs += (ln - 4) // RECORD_LEN.get(fs, ln)
            off += max(ln, 4)
        out.append((seq, count, recs, tmpl))
    return out


RECORD_LEN = {}


def refresh(ck, harness, tmp):
    nf = U.Nfcapd(ck, tmp, "harness-netflow9")
    catcher = U.UdpCatcher()
    r = T.run([harness, "--records", "3000", "--rate", "2000", "--refresh-messages", "10",
               "--netflow9",
               "--collector", "udp://127.0.0.1:%d" % nf.port, "--refresh-messages", "10",
               "--netflow9", "--collector", "udp://127.0.0.1:%d" % catcher.port], timeout=120)
    out = r.stdout.decode("utf-8", "replace")
    ck.check("harness: 3000 flows to two NetFlow v9 collectors", "result ok" in out, T.tail(out))
    catcher.finish()
    # data record length from the first template (every harness record is IPv4)
    for d in catcher.payloads:
        off = 20
        while off + 4 <= len(d):
            fs, ln = struct.unpack("!HH", d[off:off + 4])
            if fs == 0:
                tid, n = struct.unpack("!HH", d[off + 4:off + 8])
                RECORD_LEN[tid] = sum(struct.unpack("!H", d[off + 10 + 4 * i:off + 12 + 4 * i])[0]
                                      for i in range(n))
            off += max(ln, 4)
        if RECORD_LEN:
            break
    pk = v9_packets(catcher.payloads)
    data = sum(p[2] for p in pk if p) - 2 * len([p for p in pk if p and p[3]])
    ck.info("harness: %d data records in the catcher's packets" % data)
    ck.check("harness: %d packets, every one NetFlow v9 with its header count = its records" %
             len(pk), pk and all(p is not None and p[1] == p[2] for p in pk),
             str([p for p in pk if p is None or p[1] != p[2]][:3]))
    ck.check("harness: sequence numbers count packets (0..%d)" % (len(pk) - 1),
             [p[0] for p in pk if p] == list(range(len(pk))))
    gaps, last = [], None
    for i, p in enumerate(pk):
        if p and p[3]:
            if last is not None:
                gaps.append(i - last)
            last = i
    ck.check("harness: templates first and again every <= 11 packets (%d template packets)" %
             (len(gaps) + 1), pk and pk[0] and pk[0][3] and gaps and max(gaps) <= 11,
             "gaps %s" % gaps[:10])
    recs = nf.records()
    ck.check("harness: nfcapd stores the 6000 uniflow records", len(recs) == 6000,
             "got %d" % len(recs))


def main():
    daemon = T.need_daemon()
    for tool in ("nfcapd", "nfdump", "tshark"):
        T.need_tool(tool)
    ck = T.Checker("test_profile_nfdump")
    with T.tempdir("profile-nfdump") as tmp:
        pcaps, _ = T.generate(tmp)
        run_capture(ck, daemon, tmp, "generated", pcaps[0])
        real = U.real_captures()
        if not real:
            ck.info("../shared/pcaps absent: real captures skipped")
        for pcap in real:
            run_capture(ck, daemon, tmp, os.path.basename(pcap).split(".")[0], pcap)
        refused_over_tcp(ck, daemon, tmp)
        if len(sys.argv) > 3:
            refresh(ck, sys.argv[3], tmp)
    ck.finish()


if __name__ == "__main__":
    main()
