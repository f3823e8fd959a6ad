#!/usr/bin/python3
"""bench/plugins.py: what each built-in plugin costs per packet, in ns.

Runs nfsensord over one capture, exporting IPFIX to a file in the work directory, without
plugins (DPI off: the baseline) and with each plugin alone, in interleaved rounds (round 1 of
every configuration, then round 2, ...) so that load from elsewhere hits all alike. A plugin's cost is the median
CPU time (user + sys, from wait4) of its runs minus the baseline's median, over the packets:
the per-packet hooks, the larger flow slots its state makes (cache misses in the flow table)
and the per-flow expiry and export of its fields, as a sensor pays them. The same difference
is also shown per flow: on a capture with few packets per flow the per-flow part dominates.
Prints a table; never run by the test command.

    bench/plugins.py                                 trafficgen capture, 1M packets, 5 rounds
    bench/plugins.py --pcap my.pcap --rounds 9
    bench/plugins.py --plugins statistics,splt
"""
import argparse
import os
import statistics
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def configurations(workdir, model):
    """(label, nfsensord arguments) of the baseline and of each plugin alone."""
    def conf(name, text):
        path = os.path.join(workdir, name + ".yaml")
        with open(path, "w") as f:
            f.write("plugins:\n" + text)
        return path

    off = ["--set", "dpi.enabled=false"]
    flat = conf("splt-flat", "  - {name: splt, encoding: flat}\n")
    ml = conf("ml_tree", "  - {name: ml_tree, model: %s}\n" % model)
    return [
        ("baseline", off),
        ("statistics", off + ["--plugin", "statistics"]),
        ("splt", off + ["--plugin", "splt"]),
        ("splt flat", off + ["--config", flat]),
        ("ml_tree", off + ["--config", ml]),
        ("dpi", ["--set", "dpi.enabled=true"]),
    ]


def count_packets(pcap):
    """Records of a classic pcap file (either byte order, either time resolution)."""
    with open(pcap, "rb") as f:
        magic = f.read(24)[:4]
        order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        n = 0
        while True:
            h = f.read(16)
            if len(h) < 16:
                return n
            f.seek(struct.unpack(order + "IIII", h)[2], 1)
            n += 1


def count_flows(nfsensord, pcap, workdir):
    path = os.path.join(workdir, "flows.csv")
    subprocess.run([nfsensord, "--read", pcap, "--csv", path, "--set", "dpi.enabled=false"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(path) as f:
        return sum(1 for _ in f) - 1


def measure(nfsensord, pcap, out, args):
    """(CPU seconds, wall seconds) of one run; exits on failure."""
    cmd = [nfsensord, "--read", pcap, "--write", out] + args
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr.read().decode()))
    p.stderr.close()
    return ru.ru_utime + ru.ru_stime, wall


def capture(a):
    if a.pcap:
        return a.pcap
    path = os.path.join(a.workdir, "trafficgen-%d-%d.pcap" % (a.packets, a.flows))
    if not os.path.exists(path):
        gen = os.path.join(a.build, "bench", "trafficgen")
        print("generating %s" % path, file=sys.stderr)
        subprocess.run([gen, path, str(a.packets), str(a.flows), "1"], check=True,
                       stdout=subprocess.DEVNULL)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--pcap", help="capture to use [a trafficgen capture]")
    ap.add_argument("--packets", type=int, default=1000000, help="trafficgen packets [1000000]")
    ap.add_argument("--flows", type=int, default=50000, help="trafficgen flows [50000]")
    ap.add_argument("--rounds", type=int, default=5, help="runs of each configuration [5]")
    ap.add_argument("--plugins", help="comma-separated labels to measure [all]")
    ap.add_argument("--workdir", default="/tmp/nfsensor-bench")
    ap.add_argument("--model", default=os.path.join(ROOT, "conf", "models", "app_protocol.yaml"))
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    nfsensord = os.path.join(a.build, "daemon", "nfsensord")
    pcap = capture(a)
    packets = count_packets(pcap)
    flows = count_flows(nfsensord, pcap, a.workdir)
    confs = configurations(a.workdir, a.model)
    if a.plugins:
        keep = set(a.plugins.split(","))
        confs = [c for c in confs if c[0] == "baseline" or c[0] in keep]
    cpu = {label: [] for label, _ in confs}
    wall = {label: [] for label, _ in confs}
    for r in range(a.rounds):
        print("round %d/%d" % (r + 1, a.rounds), file=sys.stderr)
        for label, args in confs:
            c, w = measure(nfsensord, pcap, os.path.join(a.workdir, "out.ipfix"), args)
            cpu[label].append(c)
            wall[label].append(w)
    base = statistics.median(cpu["baseline"])
    print("capture: %s, %d packets, %d flows (%.1f packets a flow); %d rounds, medians; "
          "CPU = user + sys" % (pcap, packets, flows, packets / flows, a.rounds))
    print("%-12s %8s %8s %10s %17s %15s" % ("", "CPU s", "wall s", "ns/packet",
                                           "plugin ns/packet", "plugin ns/flow"))
    for label, _ in confs:
        c, w = statistics.median(cpu[label]), statistics.median(wall[label])
        if label == "baseline":
            extra = ("-", "-")
        else:
            extra = ("%.0f" % ((c - base) * 1e9 / packets), "%.0f" % ((c - base) * 1e9 / flows))
        print("%-12s %8.3f %8.3f %10.0f %17s %15s" % ((label, c, w, c * 1e9 / packets) + extra))
    spread = max((max(v) - min(v)) / statistics.median(v) for v in cpu.values())
    print("largest spread of a configuration's rounds: %.0f%% of its median" % (100 * spread))


if __name__ == "__main__":
    main()
