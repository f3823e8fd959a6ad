#!/usr/bin/python3
"""
dpi_memory.py: what the dpi plugin costs in memory, per active flow.

usage: bench/dpi_memory.py [--nfsensord build/daemon/nfsensord] [--flows 100000] [--tmp DIR]

Generates captures in which every flow is active at once at the end of input (each flow's two
packets 1 ms apart, the flows one after another, all within the idle timeout, so every flow ends
only in the end-of-input flush), runs nfsensord on each with DPI on and off
(`--set dpi.enabled=true|false`), and reports peak RSS (GNU time's maximum resident set size)
and bytes per active flow: (peak RSS at N flows - peak RSS at 1000 flows) / (N - 1000), which
removes the fixed cost (binary, buffers, and with DPI nDPI's detection module, about 7 MB).

Two kinds of flow:
  dns      a DNS query and its answer: nDPI completes detection at the answer, so the plugin
           frees nDPI's flow state and keeps 16 bytes in the flow slot plus the server name;
  unknown  two UDP packets no dissector recognises: detection stays open (fewer packets than
           max_packets), so each flow holds nDPI's whole flow state until it ends; the worst
           case, and what any flow costs while it is being classified.
Prints the figures; not part of the test command. Packets are built with tests/tools/pcapgen.py.
"""
import argparse
import ipaddress
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "tools"))
import pcapgen  # noqa: E402

BASELINE = 1000
SERVER = ipaddress.ip_address("10.255.0.53")
T0 = 1700000000


def client(i):
    return ipaddress.ip_address(0x0A000000 + 1 + i // 50000 * 65536 + i % 50000)


def dns_payload(i, answer):
    name = b"".join(bytes([len(p)]) + p for p in (b"h%06d" % i, b"example", b"com")) + b"\0"
    msg = struct.pack("!HHHHHH", i & 0xFFFF, 0x8180 if answer else 0x0100, 1, 1 if answer else 0,
                      0, 0) + name + struct.pack("!HH", 1, 1)
    if answer:
        msg += struct.pack("!HHHIH4s", 0xC00C, 1, 1, 3600, 4, bytes([93, 184, 216, 34]))
    return msg


def noise_payload(i):
    return bytes((i * 7 + k * 37 + 11) & 0xFF for k in range(40))


def frame(kind, i, reply):
    c, port = client(i), 1024 + i % 60000
    if kind == "dns":
        payload, sport, dport = dns_payload(i, reply), port, 53
    else:
        payload, sport, dport = noise_payload(i), port, 47123
    src, dst = (SERVER, c) if reply else (c, SERVER)
    sp, dp = (dport, sport) if reply else (sport, dport)
    l4, _ = pcapgen.build_l4(17, src, dst, sp, dp, 0, payload)
    return pcapgen.frame_for(1, pcapgen.build_ip(src, dst, 17, l4), "02:00:00:00:00:01",
                             "02:00:00:00:00:02", [])


def write_capture(path, kind, n):
    """n flows, all active at the end: flow i's query at i * step, its reply 1 ms later, the
    whole capture within 40 s (idle timeout 120 s), so every flow ends only in the final flush
    while at most a handful are being classified at any moment."""
    step_us = 40_000_000 // max(n, 1)
    with open(path, "wb") as f:
        f.write(pcapgen.pcap_header(1))
        for i in range(n):
            for reply in (False, True):
                t_us = i * step_us + (1000 if reply else 0)
                data = frame(kind, i, reply)
                f.write(struct.pack("<IIII", T0 + t_us // 1_000_000, t_us % 1_000_000,
                                    len(data), len(data)) + data)


def peak_rss_kib(cmd):
    """The command's peak RSS from GNU time (its own small process forks the command, so the
    figure is not floored by this interpreter's RSS, which a fork from here would carry)."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    lines = r.stderr.decode(errors="replace").strip().splitlines()
    if r.returncode != 0 or not lines:
        sys.exit("%s failed: %s" % (" ".join(cmd), "\n".join(lines)))
    return int(lines[-1])


def measure(nfsensord, pcap, dpi):
    cmd = [nfsensord, "--read", pcap, "--csv", "/dev/null", "--set",
           "dpi.enabled=%s" % ("true" if dpi else "false")]
    return peak_rss_kib(cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--nfsensord", default=os.path.join(HERE, "..", "build", "daemon",
                                                        "nfsensord"))
    ap.add_argument("--flows", type=int, default=100000)
    ap.add_argument("--tmp", default=None)
    a = ap.parse_args()
    print("peak RSS with %d concurrent flows, bytes per active flow = (RSS(%d) - RSS(%d)) / %d"
          % (a.flows, a.flows, BASELINE, a.flows - BASELINE))
    print("%-8s %-5s %14s %14s %16s" % ("flows", "dpi", "RSS 1000 KiB", "RSS N KiB",
                                        "bytes/flow"))
    with tempfile.TemporaryDirectory(dir=a.tmp) as tmp:
        for kind in ("dns", "unknown"):
            small, big = os.path.join(tmp, kind + "-small.pcap"), os.path.join(tmp, kind + ".pcap")
            write_capture(small, kind, BASELINE)
            write_capture(big, kind, a.flows)
            per = {}
            for dpi in (False, True):
                r0, r1 = measure(a.nfsensord, small, dpi), measure(a.nfsensord, big, dpi)
                per[dpi] = (r1 - r0) * 1024.0 / (a.flows - BASELINE)
                print("%-8s %-5s %14d %14d %16.0f" % (kind, "on" if dpi else "off", r0, r1,
                                                      per[dpi]))
            print("%-8s DPI adds %.0f bytes per active flow" % (kind, per[True] - per[False]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
