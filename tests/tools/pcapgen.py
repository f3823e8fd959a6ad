#!/usr/bin/python3
"""
pcapgen.py: writes pcap captures with KNOWN flows, and beside each capture a JSON file of the
flows nfsensord must export for it.

Standard library only. Classic libpcap format (magic 0xa1b2c3d4, microsecond timestamps),
link type EN10MB (default), RAW, NULL or LINUX_SLL.

The expected flows are not computed by a flow meter. Each scenario places its packets itself
and says, as it goes, where each flow ends and why (Scenario.cut). A flow's counters are then
plain sums over the packets the scenario put in it. Only one thing is decided globally: a flow
that no later packet of its own key cuts ends either by the idle timeout (some later packet of
the capture is >= idle_timeout after its last packet, so the idle scan emits it) or by the end
of input (flowEndReason 4). The scenarios are laid out one after another with gaps longer than
the idle timeout, so that rule is unambiguous.

Two profiles are described:
  default   nfsensor's: TCP FIN both ways or RST ends the flow (flowEndReason 3, CSV
            expiration_id 2); stragglers within tcp_linger_ms (2000) of the closing packet still
            belong to it; an active-timeout continuation keeps the original src/dst.
  nfstream  no TCP end cut; an active-timeout continuation's src is the sender of its first
            packet.
Both: time_ms = sec*1000 + usec//1000; a packet with t_ms - last_seen_ms >= idle_ms ends the old
flow (reason 1) and starts a new one; elif t_ms - first_seen_ms >= active_ms the old flow ends
(reason 2) and the packet starts the continuation.

Scenarios of the skeleton, in capture order: tcp4 (handshake, data, FIN/FIN, final ACK), tcp6,
vlan (same UDP 5-tuple untagged and on VLAN 100), qinq (VLAN 200/300), idle_gap (exact
idle boundary), active (cuts at exactly the active boundary, continuations begun by the
responder), rst, dns_icmp (last: ends by end of input; DNS response captured short). Not in the
skeleton, only with --only: tls (TLS with SNI, IPv4 and IPv6), evict (three UDP flows for
--max-flows 2).

Usage:
  pcapgen.py OUTDIR [--linktype en10mb|raw|null|sll] [--idle 10] [--active 30]
             [--only SCENARIO,...] [--name skeleton] [--truncate-after N] [--split-at N]
Writes OUTDIR/NAME.pcap and OUTDIR/NAME.json (with --split-at: NAME.part1.pcap and
NAME.part2.pcap, the second starting at packet N; the JSON describes their concatenation;
with --truncate-after: the pcap holds N whole records and then half a record, and the JSON
describes the N whole packets).

As a module: build_capture(...) returns (packets, expected); write_pcap(...) writes packets.
"""

import argparse
import ipaddress
import json
import os
import struct
import sys

LINKTYPES = {"null": 0, "en10mb": 1, "raw": 101, "sll": 113}

T0 = 1700000000  # 2023-11-14T22:13:20Z, the first scenario's start (seconds)
SCENARIO_GAP_S = 20  # between scenarios; must exceed the idle timeout used in the tests
TCP_LINGER_MS = 2000

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

END_IDLE, END_ACTIVE, END_OF_FLOW, END_FORCED, END_EVICTED = 1, 2, 3, 4, 5
EXPIRATION_ID = {END_IDLE: 0, END_ACTIVE: 1, END_OF_FLOW: 2, END_FORCED: 0, END_EVICTED: 3}
PROFILES = ("default", "nfstream")


# --------------------------------------------------------------------------------------------
# Packet building


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


class Host:
    def __init__(self, ip, mac):
        self.ip = ipaddress.ip_address(ip)
        self.mac = mac


def build_l4(proto, src, dst, sport, dport, flags, payload, icmp=None, seq_ack=(1000, 2000)):
    """Returns (l4 bytes, header length)."""
    if proto == 6:
        hdr = struct.pack("!HHIIBBHHH", sport, dport, seq_ack[0], seq_ack[1], 5 << 4, flags,
                          65535, 0, 0)
        seg = hdr + payload
        pseudo = pseudo_header(src, dst, 6, len(seg))
        c = csum(pseudo + seg)
        seg = seg[:16] + struct.pack("!H", c) + seg[18:]
        return seg, 20
    if proto == 17:
        length = 8 + len(payload)
        seg = struct.pack("!HHHH", sport, dport, length, 0) + payload
        c = csum(pseudo_header(src, dst, 17, length) + seg) or 0xFFFF
        seg = seg[:6] + struct.pack("!H", c) + seg[8:]
        return seg, 8
    if proto in (1, 58):
        itype, icode, ident, seq = icmp
        seg = struct.pack("!BBHHH", itype, icode, 0, ident, seq) + payload
        data = seg if proto == 1 else pseudo_header(src, dst, 58, len(seg)) + seg
        c = csum(data)
        seg = seg[:2] + struct.pack("!H", c) + seg[4:]
        return seg, 8
    return payload, 0


def pseudo_header(src, dst, proto, length):
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, proto, length)
    return src.packed + dst.packed + struct.pack("!IxxxB", length, proto)


def build_ip(src, dst, proto, l4):
    if src.version == 4:
        tot = 20 + len(l4)
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, 0x1234, 0x4000, 64, proto, 0,
                          src.packed, dst.packed)
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        return hdr + l4
    hdr = struct.pack("!IHBB16s16s", 0x60000000, len(l4), proto, 64, src.packed, dst.packed)
    return hdr + l4


def frame_for(linktype, ip_pkt, smac, dmac, vlans):
    ethertype = 0x0800 if ip_pkt[0] >> 4 == 4 else 0x86DD
    if linktype == 1:
        l2 = mac_bytes(dmac) + mac_bytes(smac)
        for vid in vlans:  # outermost first; 0x8100 for every tag (NFStream reads only 0x8100)
            l2 += struct.pack("!HH", 0x8100, vid)
        frame = l2 + struct.pack("!H", ethertype) + ip_pkt
        if len(frame) < 60:  # Ethernet minimum frame (without FCS): padding counts on the wire
            frame += b"\0" * (60 - len(frame))
        return frame
    if vlans:
        raise ValueError("VLAN tags need link type en10mb")
    if linktype == 101:
        return ip_pkt
    if linktype == 0:
        family = 2 if ethertype == 0x0800 else 30  # AF_INET / AF_INET6 (BSD), host order (LE)
        return struct.pack("<I", family) + ip_pkt
    if linktype == 113:
        # packet type 0 (to us), ARPHRD_ETHER, address length 6, source MAC, protocol
        return (struct.pack("!HHH", 0, 1, 6) + mac_bytes(smac) + b"\0\0" +
                struct.pack("!H", ethertype) + ip_pkt)
    raise ValueError("unsupported link type %d" % linktype)


class Packet:
    """One generated packet, with everything the expected values need."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def t_ms(self):
        return self.sec * 1000 + self.usec // 1000


# --------------------------------------------------------------------------------------------
# Scenarios


class Segment:
    """One expected flow of a scenario, in one profile."""

    def __init__(self, keep_src_of=None):
        self.packets = []
        self.keep_src_of = keep_src_of  # previous Segment whose src/dst orientation is kept
        self.end = None  # END_* once the scenario cut it, None: decided globally
        self.closed_ms = None  # default profile: time of the packet that ended the TCP flow
        self.closing = None  # and that packet


class Conversation:
    """Packets between two endpoints A and B with one key; holds the per-profile segments."""

    def __init__(self, scen, proto, a, b, aport=0, bport=0, vlans=(), note="", tcp_seq=False):
        self.scen, self.proto, self.a, self.b = scen, proto, a, b
        # tcp_seq: real sequence numbers (DPI that follows the stream needs them); else
        # every segment carries seq 1000, ack 2000
        self.next_seq = {"A": 1000, "B": 5000} if tcp_seq else None
        self.aport, self.bport, self.vlans, self.note = aport, bport, tuple(vlans), note
        self.segments = {p: [Segment()] for p in PROFILES}
        self.tcp_fin = {p: set() for p in PROFILES}

    def cut(self, reason, profiles=PROFILES, keep_src=None):
        """The next packet starts a new flow; the current one ended with reason.

        keep_src: profiles in which the new flow keeps the current src/dst orientation."""
        for p in profiles:
            cur = self.segments[p][-1]
            cur.end = reason
            keep = cur if keep_src and p in keep_src else None
            self.segments[p].append(Segment(keep_src_of=keep))

    def send(self, t, sender, flags=0, payload=b"", icmp=None, caplen=None):
        """Adds one packet; t is a float second offset from the scenario start, or (sec, usec)."""
        if isinstance(t, tuple):
            sec, usec = self.scen.t0 + t[0], t[1]
        else:
            whole = int(t)
            sec, usec = self.scen.t0 + whole, int(round((t - whole) * 1e6))
        src, dst = (self.a, self.b) if sender == "A" else (self.b, self.a)
        sport, dport = (self.aport, self.bport) if sender == "A" else (self.bport, self.aport)
        seq_ack = (1000, 2000)
        if self.next_seq is not None:
            other = "B" if sender == "A" else "A"
            seq_ack = (self.next_seq[sender], self.next_seq[other] if flags & ACK else 0)
            self.next_seq[sender] += len(payload) + (1 if flags & (SYN | FIN) else 0)
        l4, l4hdr = build_l4(self.proto, src.ip, dst.ip, sport, dport, flags, payload, icmp,
                             seq_ack)
        ip_pkt = build_ip(src.ip, dst.ip, self.proto, l4)
        frame = frame_for(self.scen.linktype, ip_pkt, src.mac, dst.mac, self.vlans)
        wire_len = len(frame)
        data = frame if caplen is None else frame[:caplen]
        if src.ip.version == 4:
            ip_octets, ip_size = len(ip_pkt), len(ip_pkt)
        else:
            ip_octets, ip_size = len(ip_pkt), len(l4)  # NFStream's mode 1: IPv6 payload_len
        transport = len(l4) if self.proto in (6, 17, 1, 58) else 0
        pay = len(l4) - l4hdr if self.proto in (6, 17, 1, 58) else 0
        pkt = Packet(sec=sec, usec=usec, data=data, wire_len=wire_len, sender=sender,
                     conv=self, tcp_flags=flags if self.proto == 6 else 0,
                     ip_octets=ip_octets,
                     sizes=[wire_len & 0xFFFF, ip_size, transport, pay])
        for p in PROFILES:
            seg = self.segments[p][-1]
            seg.packets.append(pkt)
        self.scen.packets.append(pkt)
        if self.proto == 6:
            self._tcp_end(pkt, flags, sender)
        return pkt

    def _tcp_end(self, pkt, flags, sender):
        # default profile: FIN both ways or RST closes the flow; the closing packet is in it.
        seg = self.segments["default"][-1]
        if seg.closed_ms is not None:
            if pkt.t_ms - seg.closed_ms >= TCP_LINGER_MS:
                raise ValueError("scenario sends after tcp_linger; not modelled")
            return
        if flags & FIN:
            self.tcp_fin["default"].add(sender)
        if flags & RST or len(self.tcp_fin["default"]) == 2:
            seg.closed_ms = pkt.t_ms
            seg.closing = pkt
            seg.end = END_OF_FLOW

    def host(self, side):
        return (self.a, self.aport) if side == "A" else (self.b, self.bport)


class Scenario:
    def __init__(self, name, linktype, t0):
        self.name, self.linktype, self.t0 = name, linktype, t0
        self.packets, self.convs = [], []

    def conv(self, *args, **kw):
        c = Conversation(self, *args, **kw)
        self.convs.append(c)
        return c


# Endpoints
C4 = Host("192.0.2.10", "02:00:00:00:00:0a")
S4 = Host("198.51.100.20", "02:00:00:00:00:14")
D4 = Host("198.51.100.53", "02:00:00:00:00:35")
C6 = Host("2001:db8::10", "02:00:00:00:06:10")
S6 = Host("2001:db8:1::20", "02:00:00:00:06:20")


def sc_tcp4(s):
    """IPv4 TCP: handshake, data both ways, FIN / FIN-ACK / ACK (the last ACK 1 ms after the
    second FIN: a straggler within tcp_linger, so it is in the flow in both profiles)."""
    c = s.conv(6, C4, S4, 43210, 80, note="tcp4 fin/fin")
    c.send(0.000100, "A", SYN)
    c.send(0.010200, "B", SYN | ACK)
    c.send(0.020300, "A", ACK)
    c.send(0.021400, "A", PSH | ACK, b"G" * 100)
    c.send(0.035500, "B", ACK)
    c.send(0.036600, "B", PSH | ACK, b"H" * 1000)
    c.send(0.050700, "A", ACK)
    c.send(1.000800, "A", FIN | ACK)
    c.send(1.010900, "B", FIN | ACK)
    c.send(1.011999, "A", ACK)


def sc_tcp6(s):
    """IPv6 TCP; the server closes first, the client's FIN completes the teardown."""
    c = s.conv(6, C6, S6, 50000, 443, note="tcp6")
    c.send(0.5, "A", SYN)
    c.send(0.5123, "B", SYN | ACK)
    c.send(0.52, "A", ACK)
    c.send(0.53, "A", PSH | ACK, b"x" * 517)
    c.send(0.6, "B", PSH | ACK, b"y" * 1400)
    c.send(0.6001, "B", PSH | ACK | URG | ECE, b"y" * 200)
    c.send(0.61, "A", ACK)
    c.send(2.0, "B", FIN | ACK)
    c.send(2.0105, "A", FIN | ACK | CWR)


def sc_vlan(s):
    """The same UDP 5-tuple untagged and on VLAN 100 (two flows: VLAN is part of the key)."""
    plain = s.conv(17, C4, S4, 40001, 514, note="udp untagged")
    tagged = s.conv(17, C4, S4, 40001, 514, vlans=(100,), note="udp vlan 100")
    for i in range(3):
        plain.send(0.1 + i, "A", payload=b"p" * (50 + i))
        tagged.send(0.2 + i, "A", payload=b"t" * (70 + i))
        tagged.send(0.25 + i, "B", payload=b"r" * 20)


def sc_qinq(s):
    """QinQ (outer 200, inner 300: the innermost VID wins): TCP handshake only."""
    c = s.conv(6, C4, S4, 40002, 22, vlans=(200, 300), note="tcp qinq")
    c.send(0.0, "A", SYN)
    c.send(0.001, "B", SYN | ACK)
    c.send(0.002, "A", ACK)
    c.send(0.5, "A", PSH | ACK, b"SSH-2.0-test\r\n")


def sc_idle_gap(s):
    """UDP with a silence of exactly idle_timeout in ms (1.0009 s -> 1000 ms, 11.0 s ->
    11000 ms; the cut rule is >=). The continuation starts with B, so B is its src."""
    c = s.conv(17, C4, S4, 40003, 5000, note="udp idle gap")
    c.send(0.0, "A", payload=b"a" * 10)
    c.send(0.5, "B", payload=b"b" * 30)
    c.send(1.0009, "A", payload=b"a" * 12)
    c.cut(END_IDLE)
    c.send(11.0, "B", payload=b"b" * 40)
    c.send(11.2, "A", payload=b"a" * 8)


def sc_active(s):
    """UDP every 5 s for 70 s against an active timeout of 30 s: cuts at t=30 and t=60 (both
    packets sent by B). The first packet is at 0.0007 s (0 ms) and the one at 30.0001 s is
    30000 ms, so the cut is at exactly the >= boundary (in microseconds it would be 29.9994 s).
    default keeps A as src after the cuts; nfstream makes B the src."""
    c = s.conv(17, C4, S4, 40004, 6000, note="udp active")
    for i in range(15):
        t = 5 * i
        sender = "B" if i in (3, 6, 9, 12) else "A"
        if i in (6, 12):
            c.cut(END_ACTIVE, keep_src=("default",))
        if i == 0:
            c.send((0, 700), sender, payload=b"q" * 20)
        elif i == 6:
            c.send((30, 100), sender, payload=b"r" * 21)
        else:
            c.send((t, 5000 * i), sender, payload=b"z" * (i + 1))


def sc_rst(s):
    """TCP SYN answered by RST-ACK: in the default profile the RST ends the flow."""
    c = s.conv(6, C4, S4, 40005, 8080, note="tcp rst")
    c.send(0.0, "A", SYN)
    c.send(0.0003, "B", RST | ACK)


def client_hello(sni):
    """A TLS 1.2 ClientHello record with one extension, server_name (RFC 6066) = sni."""
    name = sni.encode()
    ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + struct.pack("!H", 4) +
            b"\xc0\x2f\x00\x9c" + b"\x01\x00" + struct.pack("!H", len(ext)) + ext)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def sc_tls(s):
    """Only with --only tls: TLS with SNI over IPv4 and IPv6 (nDPI labels them Master.App
    from the server name), each a handshake, a ClientHello, a server reply and FIN/FIN."""
    for c, sni in ((s.conv(6, C4, S4, 44300, 443, note="tls4 sni", tcp_seq=True),
                    "www.wikipedia.org"),
                   (s.conv(6, C6, S6, 44306, 443, note="tls6 sni", tcp_seq=True),
                    "github.com")):
        c.send(0.0, "A", SYN)
        c.send(0.01, "B", SYN | ACK)
        c.send(0.02, "A", ACK)
        c.send(0.03, "A", PSH | ACK, client_hello(sni))
        c.send(0.05, "B", PSH | ACK, b"\x16\x03\x03" + struct.pack("!H", 300) + b"s" * 300)
        c.send(0.06, "A", ACK)
        c.send(1.0, "A", FIN | ACK)
        c.send(1.01, "B", FIN | ACK)
        c.send(1.011, "A", ACK)


def sc_dns_icmp(s):
    """Last in the skeleton (so these end by end of input, reason 4): DNS-like UDP query and
    response (the response is captured at 90 bytes of its 400), and ICMP echo (three
    request/reply pairs with different sequence numbers: ICMP is keyed by addresses only)."""
    d = s.conv(17, C4, D4, 53000, 53, note="dns")
    i = s.conv(1, C4, S4, note="icmp echo")
    d.send(0.0, "A", payload=b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"q" * 17)
    i.send(0.1, "A", icmp=(8, 0, 77, 1), payload=b"ping" * 14)
    d.send(0.0201, "B", payload=b"\x12\x34\x81\x80" + b"r" * 350, caplen=90)
    i.send(0.1102, "B", icmp=(0, 0, 77, 1), payload=b"ping" * 14)
    i.send(1.1, "A", icmp=(8, 0, 77, 2), payload=b"ping" * 14)
    i.send(1.1104, "B", icmp=(0, 0, 77, 2), payload=b"ping" * 14)
    i.send(2.1, "A", icmp=(8, 0, 77, 3), payload=b"ping" * 14)


def sc_evict(s):
    """Only with --only evict, for --max-flows 2: three UDP flows; when the third starts, the
    table is full and the least recently seen flow (the first, last packet at 0.05 s) is
    evicted (flowEndReason 5, expiration_id 3). The other two go on."""
    a = s.conv(17, C4, S4, 40010, 7000, note="udp evicted")
    b = s.conv(17, C4, S4, 40011, 7000, note="udp kept 1")
    c = s.conv(17, C4, S4, 40012, 7000, note="udp kept 2")
    a.send(0.0, "A", payload=b"a" * 10)
    a.send(0.05, "B", payload=b"a" * 11)
    b.send(0.1, "A", payload=b"b" * 12)
    a.cut(END_EVICTED)
    c.send(0.2, "A", payload=b"c" * 13)
    b.send(0.3, "B", payload=b"b" * 14)
    c.send(0.4, "B", payload=b"c" * 15)
    b.send(0.5, "A", payload=b"b" * 16)


SCENARIOS = [
    ("tcp4", sc_tcp4, True, True),
    ("tcp6", sc_tcp6, True, True),
    ("vlan", sc_vlan, False, True),
    ("qinq", sc_qinq, False, True),
    ("idle_gap", sc_idle_gap, True, True),
    ("active", sc_active, True, True),
    ("rst", sc_rst, True, True),
    ("tls", sc_tls, True, False),
    ("dns_icmp", sc_dns_icmp, True, True),
    ("evict", sc_evict, True, False),
]  # name, builder, works without Ethernet, in the skeleton by default


def scenario_names():
    return [n for n, _, _, _ in SCENARIOS]


# --------------------------------------------------------------------------------------------
# Expected flows


def dir_summary(pkts):
    if not pkts:
        return {"first_seen_ms": 0, "last_seen_ms": 0, "duration_ms": 0, "packets": 0,
                "bytes": [0, 0, 0, 0], "ip_octets": 0, "tcp_flags": 0}
    first = min(p.t_ms for p in pkts)
    last = max(p.t_ms for p in pkts)
    flags = 0
    for p in pkts:
        flags |= p.tcp_flags
    return {"first_seen_ms": first, "last_seen_ms": last, "duration_ms": last - first,
            "packets": len(pkts), "bytes": [sum(p.sizes[m] for p in pkts) for m in range(4)],
            "ip_octets": sum(p.ip_octets for p in pkts), "tcp_flags": flags}


def segment_src(seg):
    while seg.keep_src_of is not None:
        seg = seg.keep_src_of
    return seg.packets[0].sender if seg.packets else None


def expected_flows(packets, profile, idle_s, active_s, linktype):
    """Turns the scenarios' segments into expected flow records, restricted to `packets`."""
    included = set(id(p) for p in packets)
    last_ms = max(p.t_ms for p in packets) if packets else 0
    convs = []
    for p in packets:
        if p.conv not in convs:
            convs.append(p.conv)
    flows = []
    for c in convs:
        segs = c.segments[profile]
        kept = [[p for p in s.packets if id(p) in included] for s in segs]
        for k, (s, pk) in enumerate(zip(segs, kept)):
            if not pk:
                continue
            end = s.end
            later = k + 1 < len(segs) and kept[k + 1]
            if end in (END_IDLE, END_ACTIVE) and not later:
                end = None  # the packet that cut it is not in the capture
            if end == END_OF_FLOW and id(s.closing) not in included:
                end = None  # the closing FIN/RST is not in the capture
            if end is None:
                last_seen = max(p.t_ms for p in pk)
                end = END_IDLE if last_ms - last_seen >= idle_s * 1000 else END_FORCED
            src = segment_src(s)
            src_pkts = [p for p in pk if p.sender == src]
            dst_pkts = [p for p in pk if p.sender != src]
            sh, sp = c.host(src)
            dh, dp = c.host("B" if src == "A" else "A")
            zero_mac = "00:00:00:00:00:00"
            has_mac = linktype == 1
            flows.append({
                "scenario": c.scen.name, "note": c.note,
                "src_ip": str(sh.ip), "dst_ip": str(dh.ip),
                "src_port": sp, "dst_port": dp, "protocol": c.proto,
                "ip_version": sh.ip.version,
                "vlan_id": c.vlans[-1] if c.vlans else 0, "tunnel_id": 0,
                "src_mac": sh.mac if has_mac else zero_mac,
                "dst_mac": dh.mac if has_mac else zero_mac,
                "end_reason": end, "expiration_id": EXPIRATION_ID[end],
                "bidirectional": dir_summary(pk),
                "src2dst": dir_summary(src_pkts),
                "dst2src": dir_summary(dst_pkts),
            })
    flows.sort(key=lambda f: (f["bidirectional"]["first_seen_ms"], f["src_ip"], f["src_port"]))
    return flows


def build_capture(linktype=1, only=None, idle_s=10, active_s=30):
    """Returns (packets in capture order, {"params":..., "profiles": {p: flows}})."""
    t0 = T0
    packets, used = [], []
    for name, fn, no_l2_ok, default in SCENARIOS:
        if (only and name not in only) or (not only and not default):
            continue
        if linktype != 1 and not no_l2_ok:
            continue
        s = Scenario(name, linktype, t0)
        fn(s)
        s.packets.sort(key=lambda p: (p.sec, p.usec))
        packets.extend(s.packets)
        used.append(name)
        t0 = s.packets[-1].sec + SCENARIO_GAP_S + 1
    return packets, used


def expected_document(packets, used, linktype, idle_s, active_s):
    assert idle_s < SCENARIO_GAP_S, "scenario gap must exceed the idle timeout"
    return {
        "params": {"idle_timeout": idle_s, "active_timeout": active_s, "linktype": linktype,
                   "tcp_linger_ms": TCP_LINGER_MS, "scenarios": used,
                   "packets": len(packets)},
        "profiles": {p: expected_flows(packets, p, idle_s, active_s, linktype)
                     for p in PROFILES},
    }


# --------------------------------------------------------------------------------------------
# pcap writing


def pcap_header(linktype, snaplen=65535):
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(p):
    return struct.pack("<IIII", p.sec, p.usec, len(p.data), p.wire_len) + p.data


def write_pcap(path, packets, linktype, truncate_after=None):
    with open(path, "wb") as f:
        f.write(pcap_header(linktype))
        for i, p in enumerate(packets):
            rec = pcap_record(p)
            if truncate_after is not None and i == truncate_after:
                f.write(rec[:16 + len(p.data) // 2])  # header claims more than follows
                return
            f.write(rec)


def generate(outdir, name="skeleton", linktype=1, only=None, idle_s=10, active_s=30,
             truncate_after=None, split_at=None):
    """Writes the capture(s) and NAME.json; returns (list of pcap paths, json path, doc)."""
    os.makedirs(outdir, exist_ok=True)
    packets, used = build_capture(linktype, only, idle_s, active_s)
    if truncate_after is not None:
        if not 0 < truncate_after < len(packets):
            raise ValueError("--truncate-after must be within 1..%d" % (len(packets) - 1))
        doc_packets = packets[:truncate_after]
    else:
        doc_packets = packets
    doc = expected_document(doc_packets, used, linktype, idle_s, active_s)
    paths = []
    if split_at is not None:
        if not 0 < split_at < len(packets):
            raise ValueError("--split-at must be within 1..%d" % (len(packets) - 1))
        for part, pk in ((1, packets[:split_at]), (2, packets[split_at:])):
            path = os.path.join(outdir, "%s.part%d.pcap" % (name, part))
            write_pcap(path, pk, linktype)
            paths.append(path)
    else:
        path = os.path.join(outdir, name + ".pcap")
        write_pcap(path, packets, linktype, truncate_after)
        paths.append(path)
    doc["params"]["pcaps"] = [os.path.basename(p) for p in paths]
    jpath = os.path.join(outdir, name + ".json")
    with open(jpath, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    return paths, jpath, doc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--name", default="skeleton")
    ap.add_argument("--linktype", default="en10mb", choices=sorted(LINKTYPES))
    ap.add_argument("--idle", type=int, default=10, help="idle timeout (s) the test will use")
    ap.add_argument("--active", type=int, default=30, help="active timeout (s)")
    ap.add_argument("--only", help="comma-separated scenarios: " + ",".join(scenario_names()))
    ap.add_argument("--truncate-after", type=int)
    ap.add_argument("--split-at", type=int)
    a = ap.parse_args(argv)
    only = a.only.split(",") if a.only else None
    if only:
        bad = [x for x in only if x not in scenario_names()]
        if bad:
            ap.error("unknown scenario(s): " + ",".join(bad))
    paths, jpath, doc = generate(a.outdir, a.name, LINKTYPES[a.linktype], only, a.idle,
                                 a.active, a.truncate_after, a.split_at)
    for p in paths:
        print(p)
    print(jpath)
    for prof, flows in doc["profiles"].items():
        print("%s: %d flows" % (prof, len(flows)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
