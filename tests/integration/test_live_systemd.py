#!/usr/bin/python3
"""
test_live_systemd.py NFSENSORD [SOURCE_DIR]: the daemon contract (DESIGN.md §8), with this test
playing systemd.

It listens on a NOTIFY_SOCKET (AF_UNIX datagrams) and starts nfsensord with WATCHDOG_USEC and
WATCHDOG_PID set, capturing two interfaces (livenet.py) and exporting over TCP to a loopback
collector. It checks READY=1, STATUS= with live counters, WATCHDOG=1 pings, then while UDP flows
run on both interfaces: a bad configuration on SIGHUP (RELOADING=1 with MONOTONIC_USEC, errors
with file:line:column, READY=1, old configuration kept), a good one (one interface kept, one
restarted, new timeouts), and SIGTERM (STOPPING=1, exit 0). Every packet of every flow must be
counted in the records the collector got: no flow active before SIGHUP or SIGTERM is missing,
and none is counted twice. The run as --user nobody checks that the daemon keeps working
without root (capabilities: CAP_NET_RAW only).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livenet  # noqa: E402
import nfstest  # noqa: E402

DOMAINS = (11, 22)
WATCHDOG_USEC = 2000000

GENERATOR = r"""
import json, socket, sys, time
peers, n, seconds = sys.argv[1].split(","), int(sys.argv[2]), float(sys.argv[3])
socks = []
for p in peers:
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((p, 9999))
        socks.append(s)
sent = {}
t_end = time.time() + seconds
while time.time() < t_end:
    for s in socks:
        try:
            s.send(b"x" * 64)
        except OSError:  # the ICMP port unreachable of the previous one
            s.send(b"x" * 64)
        k = "%s:%d" % s.getsockname()
        sent[k] = sent.get(k, 0) + 1
    time.sleep(0.1)
print(json.dumps(sent))
"""


class Notifications(threading.Thread):
    """The systemd side of sd_notify: collects every datagram with its arrival time."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o777)  # the daemon switches to nobody
        self.sock.settimeout(0.2)
        self.msgs = []
        self.halt = False

    def run(self):
        while not self.halt:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.msgs.append((time.time(), data.decode("utf-8", "replace")))

    def since(self, t0, key):
        return [m for t, m in self.msgs if t >= t0 and any(line.startswith(key)
                                                           for line in m.split("\n"))]


def main():
    ck = nfstest.Checker("test_live_systemd")
    daemon = nfstest.need_daemon()
    livenet.need_root_netns()
    with nfstest.tempdir("systemd") as work:
        os.chmod(work, 0o755)
        with livenet.Net(base=232) as net:
            run(ck, daemon, net, work)
    ck.finish()


def run(ck, daemon, net, work):
    sink = livenet.Sink(net, work)
    conf, log = os.path.join(work, "nfsensor.yaml"), os.path.join(work, "daemon.log")
    livenet.write_config(conf, net, sink.port, DOMAINS, workers=[2, 1], idle="30s")
    os.chmod(conf, 0o644)
    notify = Notifications(os.path.join(work, "notify.sock"))
    notify.start()
    env = dict(os.environ, NOTIFY_SOCKET=notify.sock.getsockname(),
               WATCHDOG_USEC=str(WATCHDOG_USEC))
    # WATCHDOG_PID is the daemon's own pid: the shell's, which exec keeps.
    cmd = 'export WATCHDOG_PID=$$; exec ip netns exec %s "$@"' % net.sensor
    t_start = time.time()
    with open(log, "w") as logf:
        d = subprocess.Popen(["sh", "-c", cmd, "sh", daemon, "--config", conf, "--user",
                              "nobody"], stderr=logf, env=env, start_new_session=True)
    net.procs.append(d)

    ok = livenet.wait_for(lambda: notify.since(t_start, "READY=1"), 20)
    ck.check("READY=1", ok, livenet.read_log(log))
    if not ok:
        return
    t_ready = time.time()
    ck.check("capturing both interfaces when READY", livenet.read_log(log).count(
        ": capturing (") == 2, livenet.read_log(log))
    ck.check("runs as nobody with CAP_NET_RAW only",
             "running as user nobody (uid 65534), capabilities cap_net_raw\n"
             in livenet.read_log(log), livenet.read_log(log))
    status = livenet.wait_for(lambda: [m for m in notify.since(t_start, "STATUS=")
                                       if "packets" in m], 10)
    ck.check("STATUS= with live counters",
             status and re.search(r"2 of 2 interfaces capturing: \d+ packets, \d+ drops, "
                                  r"\d+ active flows, \d+ records exported", status[0]),
             str(status))
    time.sleep(2.0)
    wd = notify.since(t_ready, "WATCHDOG=1")
    ck.check("WATCHDOG=1 pings (at least 2 in 2 s with WATCHDOG_USEC=2 s)", len(wd) >= 2,
             "%d pings" % len(wd))

    gen = net.spawn(net.sensor, [sys.executable, "-c", GENERATOR,
                                 "%s,%s" % (net.peer_ip(0), net.peer_ip(1)), "6", "5"],
                    stdout=subprocess.PIPE)
    time.sleep(1.5)

    # A bad configuration: logged with file:line:column, old one kept.
    good = open(conf).read()
    with open(conf, "w") as f:
        f.write(good.replace("idle_timeout: 30s", "idle_timeout: 2 minutes"))
    t_bad = time.time()
    d.send_signal(signal.SIGHUP)
    reloading = livenet.wait_for(lambda: notify.since(t_bad, "RELOADING=1"), 10)
    ck.check("bad config: RELOADING=1 with MONOTONIC_USEC",
             reloading and re.search(r"MONOTONIC_USEC=\d+", reloading[0]), str(reloading))
    ck.check("bad config: READY=1 again",
             livenet.wait_for(lambda: notify.since(t_bad, "READY=1"), 10))
    text = livenet.read_log(log)
    ck.check("bad config: error with file:line:column, old configuration kept",
             re.search(re.escape(conf) + r":\d+:\d+: flows.idle_timeout", text) and
             "keeping the running one" in text and d.poll() is None, nfstest.tail(text))

    # A good one: interface a unchanged (kept, new timeouts), b's filter changed (restarted).
    with open(conf, "w") as f:
        f.write(good.replace("idle_timeout: 30s", "idle_timeout: 40s")
                .replace('observation_domain: 22, workers: 1, bpf: ""',
                         'observation_domain: 22, workers: 1, bpf: "not port 7"'))
    time.sleep(0.5)
    t_good = time.time()
    d.send_signal(signal.SIGHUP)
    ck.check("good config: RELOADING=1 then READY=1",
             livenet.wait_for(lambda: notify.since(t_good, "RELOADING=1") and
                              notify.since(t_good, "READY=1"), 15))
    text = livenet.read_log(log)
    ck.check("good config: a kept with its flows, b restarted",
             "1 interface kept with their flows, 1 started" in text and
             "%s: flushing its flows" % net.ifaces[1] in text, nfstest.tail(text))

    out, _ = gen.communicate(timeout=30)
    sent = json.loads(out.decode())
    time.sleep(0.5)  # the ring's block timeout
    t_term = time.time()
    d.send_signal(signal.SIGTERM)
    try:
        rc = d.wait(30)
    except subprocess.TimeoutExpired:
        rc = None
    ck.check("SIGTERM: STOPPING=1", notify.since(t_term, "STOPPING=1"))
    ck.check("SIGTERM: exit 0", rc == 0, "rc=%s %s" % (rc, nfstest.tail(livenet.read_log(log))))
    notify.halt = True
    sink.stop()

    recs = sink.records()
    got, domains = {}, {}
    for r in recs:
        if r["proto"] == 17 and r["dport"] == 9999:
            k = "%s:%d" % (r["src"], r["sport"])
            got[k] = got.get(k, 0) + r["fwd_packets"]
            domains.setdefault(k, set()).add(r["domain"])
    missing = {k: (v, got.get(k)) for k, v in sent.items() if got.get(k) != v}
    ck.info("%d flows sent %d packets; %d records" % (len(sent), sum(sent.values()), len(recs)))
    ck.check("every packet of every flow active across SIGHUP and SIGTERM exported, once",
             len(sent) == 12 and not missing, str(missing))
    want = {net.sensor_ip(0): DOMAINS[0], net.sensor_ip(1): DOMAINS[1]}
    wrong = {k: v for k, v in domains.items() if v != {want[k.split(":")[0]]}}
    ck.check("flows in their interface's observation domain across the reload", not wrong,
             str(wrong))


if __name__ == "__main__":
    main()
