"""
metricsutil.py: reading nfsensord's metrics for the loss tests (not a test itself).

parse() reads the Prometheus text exposition format (0.0.4) into {(name, labels): value};
identities() checks the identities of docs/counters.md on one such snapshot, written here
again from the document (not from the daemon's code), and returns what does not hold;
usr1_stats() reads the "statistics" lines a SIGUSR1 logs; Prometheus runs a real Prometheus
server (Debian's prometheus) in a namespace and queries its HTTP API; IDENTITIES are the same
identities in PromQL (each expression is 0 when it holds).
"""
import json
import os
import re
import subprocess
import urllib.parse

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse(text):
    """{(name, frozenset(labels.items())): float}; raises ValueError on a malformed line."""
    out, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError("malformed sample line: %r" % line)
        name, labels = m.group(1), {}
        if name not in typed:
            raise ValueError("sample before its TYPE line: %r" % line)
        if m.group(2):
            pos = 0
            for lm in _LABEL.finditer(m.group(2)):
                if lm.start() != pos:
                    raise ValueError("malformed labels: %r" % line)
                labels[lm.group(1)] = unescape(lm.group(2))
                pos = lm.end()
            if pos != len(m.group(2)):
                raise ValueError("malformed labels: %r" % line)
        out[(name, frozenset(labels.items()))] = float(m.group(3))
    return out


def value(snap, name, **labels):
    """The value of one series, or the sum over the series matching the given labels."""
    total, found = 0, False
    for (n, ls), v in snap.items():
        if n == name and all((k, val) in ls for k, val in labels.items()):
            total += v
            found = True
    return total if found else None


def identities(snap, interface):
    """The identities of docs/counters.md for one interface: a list of what does not hold."""
    def v(name, **kw):
        return value(snap, "nfsensor_" + name, interface=interface, **kw) or 0
    bad = []

    def eq(label, left, right):
        if left != right:
            bad.append("%s: %d != %d" % (label, left, right))
    eq("kernel seen = dropped + waiting + discarded + received", v("kernel_seen_packets_total"),
       v("kernel_dropped_packets_total") + v("ring_waiting_packets") +
       v("ring_discarded_packets_total") + v("received_packets_total"))
    eq("received = processed + ignored", v("received_packets_total"),
       v("processed_packets_total") + v("ignored_packets_total"))
    eq("flows created = exported + dropped + active", v("flows_created_total"),
       v("flows_exported_total") + v("flows_dropped_total") + v("flows_active"))
    eq("flows ended (by reason) = exported + dropped", v("flows_ended_total"),
       v("flows_exported_total") + v("flows_dropped_total"))
    collectors = {dict(ls).get("collector") for (n, ls) in snap
                  if n == "nfsensor_collector_records_total" and
                  dict(ls).get("interface") == interface}
    for c in sorted(collectors):
        eq("%s: records = delivered + waiting + spool dropped + failed + undelivered" % c,
           v("collector_records_total", collector=c),
           v("collector_delivered_records_total", collector=c) +
           v("collector_waiting_records", collector=c) +
           v("collector_spool_dropped_records_total", collector=c) +
           v("collector_failed_records_total", collector=c) +
           v("collector_undelivered_records_total", collector=c))
    return bad


def usr1_stats(log_text, interface):
    """The last SIGUSR1 statistics block of an interface: {"capture.packets": N, ...}."""
    out = {}
    pat = re.compile(r"%s \(domain \d+\): (\S+) (\S+)$" % re.escape(interface))
    for line in log_text.splitlines():
        m = pat.search(line)
        if m:
            try:
                out[m.group(1)] = int(m.group(2))
            except ValueError:
                out[m.group(1)] = m.group(2)
    return out


class Prometheus:
    """Debian's prometheus in namespace ns, scraping target every second."""

    def __init__(self, net, ns, workdir, target, port=19090):
        self.net, self.ns, self.port = net, ns, port
        conf = os.path.join(workdir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                    "scrape_configs:\n"
                    "  - job_name: nfsensor\n"
                    "    static_configs: [{targets: ['%s']}]\n" % target)
        self.log = open(os.path.join(workdir, "prometheus.log"), "w")
        self.p = net.spawn(ns, ["prometheus", "--config.file", conf,
                                "--storage.tsdb.path", os.path.join(workdir, "tsdb"),
                                "--web.listen-address", "127.0.0.1:%d" % port],
                           stdout=self.log, stderr=subprocess.STDOUT)

    def get(self, path):
        r = subprocess.run(self.net.exec_argv(self.ns, [
            "curl", "-s", "--max-time", "5", "http://127.0.0.1:%d%s" % (self.port, path)]),
            capture_output=True, text=True)
        return r.stdout

    def ready(self):
        return "Ready" in self.get("/-/ready")

    def api(self, path):
        """The data of an API answer, or None when Prometheus fails."""
        try:
            doc = json.loads(self.get(path))
        except ValueError:
            return None
        return doc.get("data") if doc.get("status") == "success" else None

    def query(self, expr):
        """{frozenset(labels): value} of an instant query; None when Prometheus fails."""
        data = self.api("/api/v1/query?query=" + urllib.parse.quote(expr))
        if data is None:
            return None
        return {frozenset((k, v) for k, v in r["metric"].items()
                          if k not in ("job", "instance")): float(r["value"][1])
                for r in data["result"]}

    def range_values(self, expr, start, end, step=1):
        """Every value of every series of a range query, or None when Prometheus fails."""
        data = self.api("/api/v1/query_range?query=%s&start=%f&end=%f&step=%f" % (
            urllib.parse.quote(expr), start, end, step))
        if data is None:
            return None
        return [float(v) for r in data["result"] for _, v in r["values"]]

    def scalar(self, expr):
        """The single value of an instant query (summed when several series), or None."""
        r = self.query(expr)
        if not r:
            return None
        return sum(r.values())


IDENTITIES = {
    "kernel seen = dropped + waiting + discarded + received":
        "nfsensor_kernel_seen_packets_total - nfsensor_kernel_dropped_packets_total"
        " - nfsensor_ring_waiting_packets - nfsensor_ring_discarded_packets_total"
        " - nfsensor_received_packets_total",
    "received = processed + ignored":
        "nfsensor_received_packets_total - nfsensor_processed_packets_total"
        " - on(interface, instance, job) sum by(interface, instance, job)"
        " (nfsensor_ignored_packets_total)",
    "flows created = exported + dropped + active":
        "nfsensor_flows_created_total - nfsensor_flows_exported_total"
        " - nfsensor_flows_dropped_total - nfsensor_flows_active",
    "collector records = delivered + waiting + spool dropped + failed + undelivered":
        "nfsensor_collector_records_total - nfsensor_collector_delivered_records_total"
        " - nfsensor_collector_waiting_records - nfsensor_collector_spool_dropped_records_total"
        " - nfsensor_collector_failed_records_total"
        " - nfsensor_collector_undelivered_records_total",
}
