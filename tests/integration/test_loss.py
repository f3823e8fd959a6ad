#!/usr/bin/python3
"""
test_loss.py NFSENSORD SOURCE_DIR PLUGIN_DIR: every kind of loss, forced, accounted for.

Each case forces one kind of loss and reads the daemon's metrics (the textfile of an offline
run, or /metrics of a live daemon in a network namespace), then checks that the forced
counter is above 0 and that the identities of docs/counters.md hold exactly on that snapshot
(metricsutil.identities, written from the document):
  ignored      a generated capture: UDP flows, packets cut short, IPv4 and IPv6 non-first
               fragments, and a second file of an unsupported link type; each reason equals
               the number of such packets written
  evicted      the same flows with flows.max_flows 2: evicted flows are exported early, and
               the collector (python3-ipfix on the IPFIX file) sees exactly that many records
               with flowEndReason 5 (lack of resources)
  failed send  IPFIX to standard output, which is /dev/full: every message refused (ENOSPC)
  kernel drop  live capture with a 1 MiB ring whose pipeline hangs 3 s in a plugin hook
               (stall.so) while a burst arrives
  queue full   live capture exporting to standard output, a pipe nobody reads: the export
               thread blocks, the queue (65536 records) fills, ended flows are refused
  spool full   live capture exporting over TCP to a collector that accepts and does not read:
               the socket buffers and then the 64 KiB spool fill
"""
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import livenet  # noqa: E402
import metricsutil as M  # noqa: E402
import nfstest  # noqa: E402
from pcapgen import csum  # noqa: E402

SRC_DIR = os.path.dirname(os.path.abspath(__file__))
T0 = 1700000000


# ---- generated captures -------------------------------------------------------------------

def ipv4(src, dst, proto, payload, frag=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, frag, 64, proto, 0,
                    bytes(src), bytes(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def eth(payload, etype=0x0800):
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + struct.pack("!H", etype) + payload


def ipv6_fragment(offset):
    frag = struct.pack("!BBHI", 17, 0, offset << 3, 7) + b"f" * 16
    h = struct.pack("!IHBB16s16s", 6 << 28, len(frag), 44, 64, b"\x20\x01\x0d\xb8" + b"\0" * 11
                    + b"\1", b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\2")
    return eth(h + frag, 0x86DD)


def write_pcap(path, linktype, frames):
    """frames: (caplen-limited bytes, wire length)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for i, (data, wire) in enumerate(frames):
            f.write(struct.pack("<IIII", T0 + i // 10, (i % 10) * 1000, len(data), wire))
            f.write(data)


def captures(work, flows=20):
    """Two files and what was put in them, counted as they are written."""
    a, b = [10, 0, 0, 1], [10, 0, 0, 2]
    frames, n = [], {"flows": flows}
    for k in range(flows):
        for _ in range(2):
            frames.append(eth(ipv4(a, b, 17, udp(40000 + k, 53, b"q" * 20))))
    frag = [eth(ipv4(a, b, 17, b"x" * 24, frag=185 + k)) for k in range(4)]
    frag6 = [ipv6_fragment(100 + k) for k in range(2)]
    short = [eth(ipv4(a, b, 17, udp(1, 2, b"z" * 30)))[:k] for k in (10, 20, 30)]
    n.update(ipv4_frag=len(frag), ipv6_frag=len(frag6), truncated=len(short))
    recs = [(f, len(f)) for f in frames + frag + frag6] + [(s, 80) for s in short]
    p1, p2 = os.path.join(work, "a.pcap"), os.path.join(work, "b.pcap")
    write_pcap(p1, 1, recs)
    write_pcap(p2, 147, [(b"\x55" * 40, 40)] * 5)  # LINKTYPE_USER0: no decoder
    n["unsupported"] = 5
    n["packets"] = len(recs) + 5
    return [p1, p2], n


def offline(daemon, work, name, pcaps, extra_args, stdout=None):
    prom = os.path.join(work, name + ".prom")
    conf = os.path.join(work, name + ".yaml")
    with open(conf, "w") as f:
        f.write("metrics: {textfile: %s}\n" % prom)
    argv = [daemon, "--config", conf, "--idle-timeout", "60"] + extra_args
    for p in pcaps:
        argv += ["--read", p]
    r = subprocess.run(argv, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)
    with open(prom) as f:
        return r, M.parse(f.read())


def check_offline(ck, daemon, work):
    pcaps, n = captures(work)
    ival = lambda snap, reason: M.value(snap, "nfsensor_ignored_packets_total",  # noqa: E731
                                        interface="offline", reason=reason)

    # ignored packets, by reason
    out = os.path.join(work, "ignored.ipfix")
    r, snap = offline(daemon, work, "ignored", pcaps, ["--write", out])
    ck.check("ignored: nfsensord exits 0", r.returncode == 0, nfstest.tail(r.stderr))
    ck.check("ignored: identities hold", not M.identities(snap, "offline"),
             "; ".join(M.identities(snap, "offline")))
    ck.check("ignored: received = packets written (%d)" % n["packets"],
             M.value(snap, "nfsensor_received_packets_total", interface="offline") ==
             n["packets"])
    for reason, want in (("ipv4.non_first_fragment", n["ipv4_frag"]),
                         ("ipv6.non_first_fragment", n["ipv6_frag"]),
                         ("link.unsupported", n["unsupported"])):
        ck.check("ignored: %s = %d (> 0)" % (reason, want), ival(snap, reason) == want > 0,
                 "got %s" % ival(snap, reason))
    cut = sum(v for (name, ls), v in snap.items()
              if name == "nfsensor_ignored_packets_total" and
              dict(ls)["reason"].endswith("truncated"))
    ck.check("ignored: truncated (any layer) = %d" % n["truncated"], cut == n["truncated"],
             "got %s" % cut)

    # table-full eviction
    out = os.path.join(work, "evict.ipfix")
    r, snap = offline(daemon, work, "evict", pcaps[:1], ["--max-flows", "2", "--write", out])
    evicted = M.value(snap, "nfsensor_flows_ended_total", interface="offline", reason="evicted")
    ck.check("evicted: nfsensord exits 0", r.returncode == 0, nfstest.tail(r.stderr))
    ck.check("evicted: flows evicted > 0 (%s)" % evicted, evicted and evicted > 0)
    ck.check("evicted: identities hold", not M.identities(snap, "offline"),
             "; ".join(M.identities(snap, "offline")))
    try:
        recs = nfstest.read_ipfix_file(out)
        reasons = [rec.get("flowEndReason") for rec in recs if "flowEndReason" in rec]
        ck.check("evicted: the collector got as many flowEndReason 5 records (%d)" %
                 reasons.count(5), reasons.count(5) == evicted)
        ck.check("evicted: the collector got every exported flow (%d)" % len(reasons),
                 len(reasons) == M.value(snap, "nfsensor_flows_exported_total",
                                         interface="offline"))
    except ImportError:
        ck.info("python3-ipfix missing: the collector side of eviction not checked")

    check_linger(ck, daemon, work, pcaps, n["flows"])

    # failed sends: standard output is /dev/full
    with open("/dev/full", "wb") as full:
        r, snap = offline(daemon, work, "failed", pcaps[:1], ["--write", "-"], stdout=full)
    failed = M.value(snap, "nfsensor_collector_failed_records_total", interface="offline")
    ck.check("failed send: nfsensord reports the failure (exit 1)", r.returncode == 1,
             "rc %d" % r.returncode)
    ck.check("failed send: records failed > 0 (%s)" % failed, failed and failed > 0)
    ck.check("failed send: identities hold", not M.identities(snap, "offline"),
             "; ".join(M.identities(snap, "offline")))


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check_linger(ck, daemon, work, pcaps, flows):
    """metrics.linger: after an offline run the final figures stay on /metrics until SIGTERM."""
    port, prom = free_tcp_port(), os.path.join(work, "linger.prom")
    conf = os.path.join(work, "linger.yaml")
    with open(conf, "w") as f:
        f.write("metrics: {listen: 127.0.0.1:%d, textfile: %s, linger: 120s}\n" % (port, prom))
    d = subprocess.Popen([daemon, "--config", conf, "--read", pcaps[0], "--write",
                          os.path.join(work, "linger.ipfix")], stderr=subprocess.DEVNULL)

    def final():
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
                text = r.read().decode()
            with open(prom) as f:
                same = f.read() == text
        except OSError:
            return None
        done = M.value(M.parse(text), "nfsensor_flows_exported_total", interface="offline")
        return text if same and done == flows else None
    text = livenet.wait_for(final, 30, step=0.2)
    ck.check("linger: after the run /metrics serves the final figures (= the textfile, "
             "%d flows exported) while the process waits" % flows,
             text is not None and d.poll() is None)
    t0 = time.time()
    rc = nfstest.stop(d, timeout=20)
    ck.check("linger: SIGTERM ends it, exit 0 (%.1f s)" % (time.time() - t0), rc == 0)


# ---- live cases -----------------------------------------------------------------------------

BURST = r"""
import socket, sys
dst, n = sys.argv[1], int(sys.argv[2])
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n // 60000 + 1)]
for i in range(n):
    try:
        socks[i // 60000].sendto(b"b", (dst, 1024 + i % 60000))
    except OSError:
        pass
"""

SEND_1111 = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"x" * (1111 - 14 - 20 - 8), (sys.argv[1], 9))
"""

# accepts one connection and reads nothing until FLAG exists, then everything
STALLED_SINK = r"""
import os, socket, sys, time
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
ls.bind(("127.0.0.1", 0))
ls.listen(4)
print("listening %d" % ls.getsockname()[1], flush=True)
c, _ = ls.accept()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.1)
while c.recv(65536):
    pass
"""


def live_config(path, net, collector, extra="", iface_extra=""):
    with open(path, "w") as f:
        f.write("interfaces:\n  - {name: %s, observation_domain: 9%s}\n"
                "collectors:\n  - %s\n"
                "flows: {idle_timeout: 1s, active_timeout: 1800s}\n"
                "metrics: {listen: 127.0.0.1:9155, interval: 100ms}\n%s\n" %
                (net.ifaces[0], iface_extra, collector, extra))


def scrape(net):
    r = net.run(net.sensor, ["curl", "-s", "--max-time", "5", "http://127.0.0.1:9155/metrics"])
    out = r.stdout.decode() if isinstance(r.stdout, bytes) else r.stdout
    try:
        return M.parse(out)
    except ValueError:
        return None


def wait_metric(net, iface, name, timeout, done=None, **labels):
    """The first scrape where name > 0 (and done(snap), if given)."""
    def ready():
        snap = scrape(net)
        v = snap and M.value(snap, name, interface=iface, **labels)
        return snap if v and (done is None or done(snap)) else None
    return livenet.wait_for(ready, timeout, step=0.3)


def all_ended(iface):
    return lambda snap: M.value(snap, "nfsensor_flows_active", interface=iface) == 0


def check_live_case(ck, label, snap, iface, name):
    v = snap and M.value(snap, name, interface=iface)
    ck.check("%s: %s > 0 (%s)" % (label, name, v), v and v > 0)
    if snap:
        ck.check("%s: identities hold" % label, not M.identities(snap, iface),
                 "; ".join(M.identities(snap, iface)))
        ck.info("%s: received %s, kernel dropped %s, flows created %s, exported %s, "
                "queue-dropped %s, collector records %s, spool-dropped %s" % (
                    label, *[M.value(snap, "nfsensor_" + n, interface=iface) for n in (
                        "received_packets_total", "kernel_dropped_packets_total",
                        "flows_created_total", "flows_exported_total", "flows_dropped_total",
                        "collector_records_total", "collector_spool_dropped_records_total")]))


def start_daemon(net, daemon, conf, log, **kw):
    logf = open(log, "w")
    d = net.spawn(net.sensor, [daemon, "--config", conf], stderr=logf, **kw)
    ok = livenet.wait_for(lambda: net.run(net.sensor, [
        "curl", "-sf", "http://127.0.0.1:9155/health"]).returncode == 0, 20)
    return d, ok


class Watch(threading.Thread):
    """Scrapes /metrics as fast as it can while the loss happens; every scrape must satisfy
    the identities (each is one set of published snapshots)."""

    def __init__(self, net, iface):
        super().__init__(daemon=True)
        self.net, self.iface = net, iface
        self.stopped = threading.Event()
        self.scrapes, self.bad = 0, []

    def run(self):
        while not self.stopped.is_set():
            snap = scrape(self.net)
            if snap is None:
                continue
            self.scrapes += 1
            bad = M.identities(snap, self.iface)
            if bad:
                self.bad.append(bad)

    def finish(self, ck, label):
        self.stopped.set()
        self.join(10)
        ck.check("%s: identities hold on every one of %d scrapes during the loss" %
                 (label, self.scrapes), self.scrapes > 0 and not self.bad,
                 str(self.bad[:3]))


def burst(net, n):
    net.run(net.sensor, [sys.executable, "-c", BURST, net.peer_ip(0), str(n)], timeout=120)


def case_kernel_drop(ck, daemon, net, work, plugin_dir):
    iface = net.ifaces[0]
    conf, log = os.path.join(work, "drop.yaml"), os.path.join(work, "drop.log")
    live_config(conf, net, "{file: %s}" % os.path.join(work, "drop.ipfix"),
                "plugin_dir: %s\nplugins: [{name: stall, seconds: 3}]" % plugin_dir,
                iface_extra=", buffer: 1MiB")
    d, ok = start_daemon(net, daemon, conf, log)
    if not ck.check("kernel drop: daemon up", ok, livenet.read_log(log)):
        return
    watch = Watch(net, iface)
    watch.start()
    net.run(net.sensor, [sys.executable, "-c", SEND_1111, net.peer_ip(0)])
    burst(net, 40000)
    snap = wait_metric(net, iface, "nfsensor_kernel_dropped_packets_total", 30,
                       lambda s: M.value(s, "nfsensor_ring_waiting_packets", interface=iface)
                       == 0)
    watch.finish(ck, "kernel drop")
    check_live_case(ck, "kernel drop", snap, iface, "nfsensor_kernel_dropped_packets_total")
    ck.check("kernel drop: SIGTERM exits 0", nfstest.stop(d, timeout=30) == 0,
             nfstest.tail(livenet.read_log(log)))


def case_queue_full(ck, daemon, net, work):
    iface = net.ifaces[0]
    conf, log = os.path.join(work, "queue.yaml"), os.path.join(work, "queue.log")
    live_config(conf, net, '{file: "-"}')
    d, ok = start_daemon(net, daemon, conf, log, stdout=subprocess.PIPE)
    if not ck.check("queue full: daemon up", ok, livenet.read_log(log)):
        return
    watch = Watch(net, iface)
    watch.start()
    burst(net, 80000)
    snap = wait_metric(net, iface, "nfsensor_flows_dropped_total", 60, all_ended(iface))
    watch.finish(ck, "queue full")
    check_live_case(ck, "queue full", snap, iface, "nfsensor_flows_dropped_total")
    drain = threading.Thread(target=lambda: d.stdout.read(), daemon=True)
    drain.start()
    ck.check("queue full: SIGTERM exits 0", nfstest.stop(d, timeout=60) == 0,
             nfstest.tail(livenet.read_log(log)))


def case_spool_full(ck, daemon, net, work):
    iface = net.ifaces[0]
    flag = os.path.join(work, "read-now")
    sink = net.spawn(net.sensor, [sys.executable, "-c", STALLED_SINK, flag],
                     stdout=subprocess.PIPE)
    port = int(sink.stdout.readline().split()[1])
    conf, log = os.path.join(work, "spool.yaml"), os.path.join(work, "spool.log")
    live_config(conf, net, "{address: 127.0.0.1:%d, transport: tcp, spool: 64KiB}" % port)
    d, ok = start_daemon(net, daemon, conf, log)
    if not ck.check("spool full: daemon up", ok, livenet.read_log(log)):
        return
    watch = Watch(net, iface)
    watch.start()
    burst(net, 80000)
    snap = wait_metric(net, iface, "nfsensor_collector_spool_dropped_records_total", 60,
                       all_ended(iface))
    watch.finish(ck, "spool full")
    check_live_case(ck, "spool full", snap, iface,
                    "nfsensor_collector_spool_dropped_records_total")
    open(flag, "w").close()
    ck.check("spool full: SIGTERM exits 0", nfstest.stop(d, timeout=60) == 0,
             nfstest.tail(livenet.read_log(log)))


def main():
    ck = nfstest.Checker("test_loss")
    daemon = nfstest.need_daemon()
    plugin_dir = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
    with nfstest.tempdir("loss") as work:
        check_offline(ck, daemon, work)
        if os.geteuid() != 0 or not nfstest.need_tool("curl"):
            ck.info("not root: the live cases (kernel drop, queue full, spool full) skipped")
            ck.finish()
        livenet.need_root_netns()
        with livenet.Net(base=218, pairs=1) as net:
            if plugin_dir and os.path.exists(os.path.join(plugin_dir, "stall.so")):
                case_kernel_drop(ck, daemon, net, work, plugin_dir)
            else:
                ck.check("stall.so built (kernel drop case)", False, str(plugin_dir))
            case_queue_full(ck, daemon, net, work)
            case_spool_full(ck, daemon, net, work)
    ck.finish()


if __name__ == "__main__":
    main()
