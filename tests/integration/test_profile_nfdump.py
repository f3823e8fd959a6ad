#!/usr/bin/python3
"""
test_profile_nfdump.py NFSENSORD [SOURCE_DIR]

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
"""
import os
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
    ck.finish()


if __name__ == "__main__":
    main()
