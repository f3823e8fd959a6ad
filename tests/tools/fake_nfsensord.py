#!/usr/bin/python3
"""
fake_nfsensord.py: a stand-in for nfsensord that exports the flows pcapgen.py EXPECTS for a
generated capture (NAME.json beside NAME.pcap), with python3-ipfix. It lets the integration
tests' decoders and comparisons be checked without the daemon:

  NFSENSORD=tests/tools/fake_nfsensord.py tests/integration/test_python_ipfix.py \
      tests/tools/fake_nfsensord.py

Understands --read, --write FILE|-, --csv, --collector udp://|tcp://, --profile,
--accounting-mode, --observation-domain (the rest is accepted and ignored). No RFC 5610
records are sent.
"""

import argparse
import csv
import datetime
import ipaddress
import json
import os
import socket
import sys

import ipfix.ie
import ipfix.message
import ipfix.template
import ipfix.writer

FIELDS4 = ["flowId", "sourceIPv4Address", "sourceMacAddress", "sourceTransportPort",
           "destinationIPv4Address", "destinationMacAddress", "destinationTransportPort",
           "protocolIdentifier", "ipVersion", "vlanId", "tunnelId", "flowStartMilliseconds",
           "flowEndMilliseconds", "packetDeltaCount", "octetDeltaCount",
           "accountedOctetDeltaCount", "tcpControlBits[1]", "reverseFlowStartMilliseconds",
           "reverseFlowEndMilliseconds", "reversePacketDeltaCount", "reverseOctetDeltaCount",
           "reverseAccountedOctetDeltaCount", "reverseTcpControlBits[1]", "flowEndReason"]
FIELDS6 = [f.replace("IPv4", "IPv6") for f in FIELDS4]


def model():
    ipfix.ie.use_iana_default()
    ipfix.ie.use_5103_default()
    for spec in ("tunnelId(32473/1001)<unsigned8>[1]",
                 "accountedOctetDeltaCount(32473/1002)<unsigned64>[8]",
                 "reverseAccountedOctetDeltaCount(32473/1003)<unsigned64>[8]"):
        ipfix.ie.for_spec(spec)


def ms(v):
    return datetime.datetime.utcfromtimestamp(v / 1000)


def record(i, f, mode):
    v6 = f["ip_version"] == 6
    s, d = f["src2dst"], f["dst2src"]
    return {"flowId": i,
            ("sourceIPv6Address" if v6 else "sourceIPv4Address"): ipaddress.ip_address(f["src_ip"]),
            ("destinationIPv6Address" if v6 else "destinationIPv4Address"):
                ipaddress.ip_address(f["dst_ip"]),
            "sourceMacAddress": bytes.fromhex(f["src_mac"].replace(":", "")),
            "destinationMacAddress": bytes.fromhex(f["dst_mac"].replace(":", "")),
            "sourceTransportPort": f["src_port"], "destinationTransportPort": f["dst_port"],
            "protocolIdentifier": f["protocol"], "ipVersion": f["ip_version"],
            "vlanId": f["vlan_id"], "tunnelId": f["tunnel_id"],
            "flowStartMilliseconds": ms(s["first_seen_ms"]),
            "flowEndMilliseconds": ms(s["last_seen_ms"]),
            "packetDeltaCount": s["packets"], "octetDeltaCount": s["ip_octets"],
            "accountedOctetDeltaCount": s["bytes"][mode], "tcpControlBits": s["tcp_flags"],
            "reverseFlowStartMilliseconds": ms(d["first_seen_ms"]),
            "reverseFlowEndMilliseconds": ms(d["last_seen_ms"]),
            "reversePacketDeltaCount": d["packets"], "reverseOctetDeltaCount": d["ip_octets"],
            "reverseAccountedOctetDeltaCount": d["bytes"][mode],
            "reverseTcpControlBits": d["tcp_flags"], "flowEndReason": f["end_reason"]}


def templates():
    return (ipfix.template.from_ielist(256, ipfix.ie.spec_list(FIELDS4)),
            ipfix.template.from_ielist(257, ipfix.ie.spec_list(FIELDS6)))


def messages(recs, odid):
    """IPFIX messages (bytes), each with the templates then up to 5 records."""
    t4, t6 = templates()
    out = []
    for k in range(0, max(len(recs), 1), 5):
        m = ipfix.message.MessageBuffer()
        m.begin_export(odid)
        m.add_template(t4)
        m.add_template(t6)
        for r in recs[k:k + 5]:
            m.export_ensure_set(257 if "sourceIPv6Address" in r else 256)
            m.export_namedict(r)
        out.append(m.to_bytes())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--read", action="append", required=True)
    ap.add_argument("--write")
    ap.add_argument("--csv")
    ap.add_argument("--collector", action="append", default=[])
    ap.add_argument("--profile", default="default")
    ap.add_argument("--accounting-mode", type=int, default=0)
    ap.add_argument("--observation-domain", type=int, default=0)
    ap.add_argument("--idle-timeout")
    ap.add_argument("--active-timeout")
    ap.add_argument("--max-flows")
    a = ap.parse_args()
    first = a.read[0]
    if not os.access(first, os.R_OK):
        print("fake_nfsensord: cannot read %s" % first, file=sys.stderr)
        return 1
    base = first[:-len(".pcap")]
    if base.endswith(".part1"):
        base = base[:-len(".part1")]
    with open(base + ".json") as f:
        doc = json.load(f)
    model()
    flows = doc["profiles"][a.profile]
    recs = [record(i, f, a.accounting_mode) for i, f in enumerate(flows)]
    msgs = messages(recs, a.observation_domain)
    if a.write:
        out = sys.stdout.buffer if a.write == "-" else open(a.write, "wb")
        for m in msgs:
            out.write(m)
        out.flush()
    for c in a.collector:
        proto, hp = c.split("://")
        host, port = hp.rsplit(":", 1)
        if proto == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for m in msgs:
                s.sendto(m, (host, int(port)))
        else:
            s = socket.create_connection((host, int(port)))
            for m in msgs:
                s.sendall(m)
        s.close()
    if a.csv:
        cols = ["id", "expiration_id", "src_ip", "src_mac", "src_oui", "src_port", "dst_ip",
                "dst_mac", "dst_oui", "dst_port", "protocol", "ip_version", "vlan_id",
                "tunnel_id"]
        dirs = ["bidirectional", "src2dst", "dst2src"]
        for d in dirs:
            cols += [d + "_" + x for x in ("first_seen_ms", "last_seen_ms", "duration_ms",
                                            "packets", "bytes")]
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for i, fl in enumerate(flows):
                row = [i, fl["expiration_id"], fl["src_ip"], fl["src_mac"], fl["src_mac"][:8],
                       fl["src_port"], fl["dst_ip"], fl["dst_mac"], fl["dst_mac"][:8],
                       fl["dst_port"], fl["protocol"], fl["ip_version"], fl["vlan_id"],
                       fl["tunnel_id"]]
                for d in dirs:
                    x = fl[d]
                    row += [x["first_seen_ms"], x["last_seen_ms"], x["duration_ms"],
                            x["packets"], x["bytes"][a.accounting_mode]]
                w.writerow(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
