"""
livenet.py: network namespaces for the live-capture tests (not a test itself).

A Net is a sensor namespace S holding one end of each veth pair (the interfaces nfsensord
captures on, a loopback collector) and one peer namespace per pair holding the other end and
the servers: `openssl s_server -www` (self-signed certificate, any SNI), a tiny DNS responder
(tests/integration/dns_responder.py) and the kernel's ICMP echo. Clients run in S. Everything
is torn down by Net.close(), which the tests call in a finally block and at exit; names carry
the test's pid so parallel tests never meet. Addresses: 10.<base>.<pair>.1 (S) and .2 (peer),
only inside these namespaces.
"""

import atexit
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

import nfstest

HERE = os.path.dirname(os.path.abspath(__file__))


def need_root_netns():
    if os.geteuid() != 0:
        nfstest.skip("needs root (network namespaces)")
    if shutil.which("ip") is None:
        nfstest.skip("ip (iproute2) not found")
    probe = "nfsprobe%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True)
    if r.returncode != 0:
        nfstest.skip("ip netns unavailable: %s" % r.stderr.decode().strip())
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)


def sh(*argv, check=True):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), r.stderr.strip()))
    return r


class Net:
    def __init__(self, base, pairs=2):
        tag = os.getpid() % 100000
        self.sensor = "nfsS%d" % tag
        self.peers = ["nfs%s%d" % (chr(ord("A") + i), tag) for i in range(pairs)]
        # interface names: at most 15 characters
        self.ifaces = ["nf%s%d" % (chr(ord("a") + i), tag) for i in range(pairs)]
        self.peer_ifaces = ["nf%s%dp" % (chr(ord("a") + i), tag) for i in range(pairs)]
        self.base = base
        self.procs = []
        self.closed = False
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        try:
            self._setup()
        except Exception:
            self.close()
            raise

    def _on_signal(self, signum, frame):
        self.close()
        sys.exit(1)

    def sensor_ip(self, i):
        return "10.%d.%d.1" % (self.base, i + 1)

    def peer_ip(self, i):
        return "10.%d.%d.2" % (self.base, i + 1)

    def _setup(self):
        for ns in [self.sensor] + self.peers:
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            for k in ("all", "default"):  # no IPv6 chatter (ND, MLD) on the pairs
                sh("ip", "netns", "exec", ns, "sysctl", "-qw",
                   "net.ipv6.conf.%s.disable_ipv6=1" % k, check=False)
        for i, peer in enumerate(self.peers):
            sh("ip", "link", "add", self.ifaces[i], "netns", self.sensor, "type", "veth",
               "peer", "name", self.peer_ifaces[i], "netns", peer)
            sh("ip", "-n", self.sensor, "addr", "add", self.sensor_ip(i) + "/24",
               "dev", self.ifaces[i])
            sh("ip", "-n", peer, "addr", "add", self.peer_ip(i) + "/24",
               "dev", self.peer_ifaces[i])
            sh("ip", "-n", self.sensor, "link", "set", self.ifaces[i], "up")
            sh("ip", "-n", peer, "link", "set", self.peer_ifaces[i], "up")

    def exec_argv(self, ns, argv):
        return ["ip", "netns", "exec", ns] + list(argv)

    def spawn(self, ns, argv, **kw):
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        p = subprocess.Popen(self.exec_argv(ns, argv), start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def run(self, ns, argv, timeout=30):
        return nfstest.run(self.exec_argv(ns, argv), timeout=timeout)

    # ---- servers in the peer namespaces ----

    def start_servers(self, workdir):
        cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
        r = nfstest.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                         "2", "-subj", "/CN=nfsensor.test", "-keyout", key, "-out", cert])
        if r.returncode != 0:
            raise RuntimeError("openssl req: " + nfstest.tail(r.stderr))
        for i, peer in enumerate(self.peers):
            self.spawn(peer, ["openssl", "s_server", "-quiet", "-www", "-accept", "4433",
                              "-cert", cert, "-key", key])
            self.spawn(peer, [sys.executable, os.path.join(HERE, "dns_responder.py"),
                              self.peer_ip(i)])
        for i in range(len(self.peers)):
            wait_port(self, self.peers[i], 4433)

    # ---- clients in the sensor namespace ----

    def curl(self, i, name):
        return self.run(self.sensor, ["curl", "-sk", "--max-time", "10", "--resolve",
                                      "%s:4433:%s" % (name, self.peer_ip(i)),
                                      "https://%s:4433/" % name])

    def dns(self, i, name):
        return self.run(self.sensor, [sys.executable, os.path.join(HERE, "dns_responder.py"),
                                      "--query", self.peer_ip(i), name])

    def ping(self, i, count=3):
        return self.run(self.sensor, ["ping", "-c", str(count), "-i", "0.2", "-W", "2",
                                      self.peer_ip(i)])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        for ns in [self.sensor] + self.peers:
            sh("ip", "netns", "del", ns, check=False)


def wait_port(net, ns, port, timeout=10):
    t_end = time.time() + timeout
    while time.time() < t_end:
        r = sh(*net.exec_argv(ns, ["ss", "-ltnH", "sport = :%d" % port]), check=False)
        if r.stdout.strip():
            return
        time.sleep(0.1)
    raise RuntimeError("nothing listens on port %d in %s" % (port, ns))


# ---- the collector: tests/integration/ipfix_sink.py in the sensor namespace ----

class Sink:
    """A TCP IPFIX collector on 127.0.0.1 in ns; every connection is saved to its own file."""

    def __init__(self, net, workdir):
        self.dir = os.path.join(workdir, "sink")
        os.makedirs(self.dir, exist_ok=True)
        self.p = net.spawn(net.sensor, [sys.executable, os.path.join(HERE, "ipfix_sink.py"),
                                        self.dir], stdout=subprocess.PIPE)
        line = self.p.stdout.readline().decode()
        if not line.startswith("listening "):
            raise RuntimeError("ipfix_sink did not start")
        self.port = int(line.split()[1])

    def stop(self, timeout=20):
        """Waits until every connection has ended (the exporters close theirs), then stops."""
        wait_for(lambda: not any(n.endswith(".part") for n in os.listdir(self.dir)), timeout)
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()

    def connections(self):
        return sorted(os.listdir(self.dir))

    def records(self):
        """Every flow record of every connection, as dicts (see decode)."""
        out = []
        for name in self.connections():
            with open(os.path.join(self.dir, name), "rb") as f:
                data = f.read()
            s = DomainStream()
            s.feed(data, lambda tid, rec, s=s: out.append(decode(s.domain, rec)))
        return [r for r in out if r is not None]


def _stream_class():
    import ipfixwire

    class _DomainStream(ipfixwire.Stream):
        """ipfixwire.Stream that remembers the observation domain of the current message."""

        def _message(self, data, p, end, domain, on_record):
            self.domain = domain
            return super()._message(data, p, end, domain, on_record)
    return _DomainStream


def DomainStream():
    return _stream_class()()


PEN = 32473


def _u(b):
    return int.from_bytes(b, "big") if b is not None else None


def _s(b):
    return bytes(b).split(b"\0")[0].decode("utf-8", "replace") if b is not None else None


def decode(domain, rec):
    if (0, 136) not in rec:
        return None  # an options (statistics) record
    src, dst = rec.get((0, 8)), rec.get((0, 12))
    return {
        "domain": domain,
        "src": socket.inet_ntoa(bytes(src)) if src else None,
        "dst": socket.inet_ntoa(bytes(dst)) if dst else None,
        "sport": _u(rec.get((0, 7))),
        "dport": _u(rec.get((0, 11))),
        "proto": _u(rec.get((0, 4))),
        "packets": (_u(rec.get((0, 2))) or 0) + (_u(rec.get((29305, 2))) or 0),
        "fwd_packets": _u(rec.get((0, 2))) or 0,
        "end_reason": _u(rec.get((0, 136))),
        "app": _s(rec.get((PEN, 1202))),
        "sni": _s(rec.get((PEN, 1206))),
    }


# ---- the daemon ----

def write_config(path, net, port, domains, workers=None, bpf=None, idle="30s", extra=""):
    workers = workers or [1] * len(net.ifaces)
    bpf = bpf or [""] * len(net.ifaces)
    lines = ["interfaces:"]
    for i, name in enumerate(net.ifaces):
        lines.append('  - {name: %s, observation_domain: %d, workers: %d, bpf: "%s"}' %
                     (name, domains[i], workers[i], bpf[i]))
    lines += ["collectors:", '  - {address: "127.0.0.1:%d", transport: tcp}' % port,
              "flows: {idle_timeout: %s, active_timeout: 1800s}" % idle, extra]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def terminate(p, timeout=30):
    """SIGTERM to the daemon; its exit code, or None when it has not ended within timeout."""
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def wait_for(pred, timeout, step=0.05):
    t_end = time.time() + timeout
    while time.time() < t_end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def read_log(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def ifrecv_u32(b):
    return struct.unpack("!I", b)[0]
