#!/usr/bin/python3
"""
test_metrics_prometheus.py NFSENSORD SOURCE_DIR: a real Prometheus scrapes nfsensord.

In a network namespace (livenet.py: one veth pair, permanent neighbours so that no ARP comes
after the traffic) nfsensord captures the pair and exports over TCP to a collector (the
stream is saved and decoded with python3-ipfix), with metrics: {listen: 127.0.0.1:9155}.
Debian's prometheus, started here with its own scrape config (1 s interval), TSDB directory
and loopback port in the same namespace, scrapes it. After pings and UDP datagrams, once
every flow has expired and been sent:
  - without metrics: the daemon listens on no TCP port; with it, on 127.0.0.1:9155 only;
  - /metrics is the text exposition format (every sample after its TYPE line) and /health ok;
  - the identities, as PromQL over a range query, are 0 at every 0.1 s step of the run;
  - the values Prometheus returns through /api/v1/query equal the daemon's own SIGUSR1
    statistics, counter by counter, and the identities of docs/counters.md hold on them;
  - the collector's decoded flow-record count equals nfsensor_collector_sent_records_total
    and the final IPFIX statistics records (RFC 7011 4.1-4.2) carry the same packet, flow and
    drop figures.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livenet  # noqa: E402
import metricsutil as M  # noqa: E402
import nfstest  # noqa: E402

TRAFFIC = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for port in range(5000, 5000 + int(sys.argv[2])):
    for k in range(3):
        s.sendto(b"m" * (100 + k), (sys.argv[1], port))
"""

# SIGUSR1 name -> the PromQL expression of the same figure
PAIRS = [
    ("capture.kernel.seen", "nfsensor_kernel_seen_packets_total"),
    ("capture.kernel.dropped", "nfsensor_kernel_dropped_packets_total"),
    ("capture.packets", "nfsensor_received_packets_total"),
    ("capture.bytes", "nfsensor_received_bytes_total"),
    ("decode.processed", "nfsensor_processed_packets_total"),
    ("flows.created", "nfsensor_flows_created_total"),
    ("flows.exported", "nfsensor_flows_exported_total"),
    ("flows.expired.idle", 'nfsensor_flows_ended_total{reason="idle"}'),
    ("exporter.encoded", "nfsensor_export_encoded_records_total"),
    ("exporter.collector[0].taken", "nfsensor_collector_records_total"),
    ("exporter.collector[0].delivered", "nfsensor_collector_delivered_records_total"),
    ("exporter.collector[0].sent", "nfsensor_collector_sent_records_total"),
    ("exporter.collector[0].messages", "nfsensor_collector_messages_total"),
]


def main():
    ck = nfstest.Checker("test_metrics_prometheus")
    daemon = nfstest.need_daemon()
    livenet.need_root_netns()
    nfstest.need_tool("prometheus")
    nfstest.need_tool("curl")
    try:
        import ipfix.reader  # noqa: F401
    except ImportError:
        nfstest.skip("python3-ipfix not installed")
    with nfstest.tempdir("metrics-prom") as work:
        with livenet.Net(base=219, pairs=1) as net:
            run(ck, daemon, net, work)
    ck.finish()


def pin_neighbours(net):
    """Permanent ARP entries both ways: no ARP traffic once the test's traffic stops."""
    for ns, dev, ip, other_ns, other_dev in (
            (net.sensor, net.ifaces[0], net.peer_ip(0), net.peers[0], net.peer_ifaces[0]),
            (net.peers[0], net.peer_ifaces[0], net.sensor_ip(0), net.sensor, net.ifaces[0])):
        mac = livenet.sh(
            *net.exec_argv(other_ns, ["cat", "/sys/class/net/%s/address" % other_dev])
        ).stdout.strip()
        livenet.sh("ip", "-n", ns, "neigh", "replace", ip, "lladdr", mac, "dev", dev,
                   "nud", "permanent")


def listeners(net, pid):
    """The TCP addresses process pid listens on in the sensor namespace."""
    r = livenet.sh(*net.exec_argv(net.sensor, ["ss", "-ltnpH"]))
    return sorted(line.split()[3] for line in r.stdout.splitlines()
                  if "pid=%d," % pid in line)


def off_by_default(ck, daemon, net, work, port):
    """Without metrics: the daemon listens nowhere."""
    conf, log = os.path.join(work, "plain.yaml"), os.path.join(work, "plain.log")
    livenet.write_config(conf, net, port, (6,))
    with open(log, "w") as logf:
        d = net.spawn(net.sensor, [daemon, "--config", conf], stderr=logf)
    up = livenet.wait_for(lambda: "capturing" in livenet.read_log(log), 20)
    ck.check("without metrics: nfsensord listens on no TCP port",
             up and listeners(net, d.pid) == [], "%s %s" % (listeners(net, d.pid),
                                                             livenet.read_log(log)))
    nfstest.stop(d, timeout=30)


def scrape(net):
    r = net.run(net.sensor, ["curl", "-s", "--max-time", "5", "http://127.0.0.1:9155/metrics"])
    return r.stdout.decode() if isinstance(r.stdout, bytes) else r.stdout


def quiet(net, iface):
    """The daemon's own /metrics once every flow is out and written to the collector (TCP
    keeps the last 8 MiB retained for replay: waiting, not yet delivered), else None."""
    try:
        snap = M.parse(scrape(net))
    except ValueError:
        return None
    v = lambda n: M.value(snap, n, interface=iface)  # noqa: E731
    if (v("nfsensor_flows_created_total") and v("nfsensor_flows_active") == 0 and
            v("nfsensor_collector_sent_records_total") == v("nfsensor_flows_exported_total")):
        return snap
    return None


def run(ck, daemon, net, work):
    iface = net.ifaces[0]
    sink = livenet.Sink(net, work)
    conf, log = os.path.join(work, "nfsensor.yaml"), os.path.join(work, "daemon.log")
    livenet.write_config(conf, net, sink.port, (7,), idle="1s",
                         extra="metrics: {listen: 127.0.0.1:9155, interval: 200ms}")
    pin_neighbours(net)
    off_by_default(ck, daemon, net, work, sink.port)
    with open(log, "w") as logf:
        d = net.spawn(net.sensor, [daemon, "--config", conf], stderr=logf)
    prom = M.Prometheus(net, net.sensor, work, "127.0.0.1:9155")
    if not ck.check("nfsensord serves /health", livenet.wait_for(
            lambda: net.run(net.sensor, ["curl", "-sf", "http://127.0.0.1:9155/health"])
            .returncode == 0, 20), livenet.read_log(log)):
        return
    ck.check("nfsensord listens on 127.0.0.1:9155 only", listeners(net, d.pid) ==
             ["127.0.0.1:9155"], str(listeners(net, d.pid)))
    ck.check("prometheus is ready", livenet.wait_for(prom.ready, 60),
             nfstest.tail(open(os.path.join(work, "prometheus.log")).read()))
    # Prometheus sends its first targets to the scraper after 5 s: the traffic waits for it
    ck.check("prometheus scrapes nfsensord", livenet.wait_for(
        lambda: prom.scalar('up{job="nfsensor"}') == 1, 30, 0.2))
    t_start = time.time()
    net.ping(0, count=10)
    net.run(net.sensor, [sys.executable, "-c", TRAFFIC, net.peer_ip(0), "12"])
    snap = livenet.wait_for(lambda: quiet(net, iface), 30, step=0.5)
    if not ck.check("every flow expired and sent (the daemon's /metrics)", snap is not None,
                    scrape(net)[-3000:]):
        return
    ck.check("/metrics: identities hold", not M.identities(snap, iface),
             "; ".join(M.identities(snap, iface)))
    ck.check("/metrics: flows were metered",
             M.value(snap, "nfsensor_flows_created_total", interface=iface) >= 13)

    d.send_signal(signal.SIGUSR1)
    usr1 = livenet.wait_for(lambda: M.usr1_stats(livenet.read_log(log), iface)
                      .get("identities.interface"), 10)
    own = M.usr1_stats(livenet.read_log(log), iface)
    for name, _ in PAIRS:  # SIGUSR1 leaves out the pipeline counters that are 0
        own.setdefault(name, 0)
    ck.check("SIGUSR1: the daemon says the identities hold",
             usr1 == "hold" and own.get("identities.collector[0]") == "hold", str(own))
    def promql(name_expr):
        name, expr = name_expr
        if "{" in expr:
            return expr.replace("{", '{interface="%s",' % iface)
        return '%s{interface="%s"}' % (expr, iface)

    def from_prometheus():
        return {name: prom.scalar(promql((name, expr))) for name, expr in PAIRS}

    caught_up = livenet.wait_for(
        lambda: all(v == own.get(n) for n, v in from_prometheus().items()), 20, 0.5)
    ck.check("prometheus has scraped the final figures", caught_up)
    from_prom = from_prometheus()
    for name, expr in PAIRS:
        ck.check("prometheus %s = SIGUSR1 %s (%s)" % (promql((name, expr)), name, own.get(name)),
                 from_prom[name] is not None and from_prom[name] == own.get(name),
                 "prometheus %s" % from_prom[name])
    ignored = prom.scalar('sum(nfsensor_ignored_packets_total{interface="%s"})' % iface)
    ck.check("prometheus: received = processed + ignored",
             from_prom["capture.packets"] == from_prom["decode.processed"] + ignored)
    ck.info("figures: %s, ignored %s" % (own, ignored))
    for label, expr in M.IDENTITIES.items():
        now = time.time()  # steps of 0.1 s: every scrape (1 s) is evaluated
        vals = prom.range_values(expr, t_start, now, step=max(0.1, (now - t_start) / 10000))
        ck.check("prometheus: %s at every step since the traffic began (%d points)" %
                 (label, len(vals or [])), vals and all(v == 0 for v in vals),
                 str(vals and [v for v in vals if v != 0][:5]))

    rc = nfstest.stop(d, timeout=30)
    ck.check("SIGTERM: exit 0", rc == 0, nfstest.tail(livenet.read_log(log)))
    sink.stop()
    recs = []
    for name in sink.connections():
        recs += nfstest.read_ipfix_file(os.path.join(sink.dir, name))
    flows = [r for r in recs if "flowEndReason" in r]
    ck.check("collector (python3-ipfix): flow records = prometheus sent (%d)" % len(flows),
             len(flows) == from_prom["exporter.collector[0].sent"],
             "prometheus %s" % from_prom["exporter.collector[0].sent"])
    metering = [r for r in recs if "packetTotalCount" in r]
    reliab = [r for r in recs if "droppedPacketTotalCount" in r]
    if ck.check("collector: statistics records received", metering and reliab):
        last, rel = metering[-1], reliab[-1]
        ck.check("statistics packetTotalCount = prometheus received packets",
                 last["packetTotalCount"] == from_prom["capture.packets"],
                 "%s vs %s" % (last["packetTotalCount"], from_prom["capture.packets"]))
        ck.check("statistics observedFlowTotalCount = prometheus flows created",
                 last["observedFlowTotalCount"] == from_prom["flows.created"],
                 "%s vs %s" % (last["observedFlowTotalCount"], from_prom["flows.created"]))
        ck.check("statistics ignoredPacketTotalCount = prometheus ignored",
                 rel["ignoredPacketTotalCount"] == ignored)
        ck.check("statistics droppedPacketTotalCount = prometheus kernel drops",
                 rel["droppedPacketTotalCount"] == from_prom["capture.kernel.dropped"])


if __name__ == "__main__":
    main()
