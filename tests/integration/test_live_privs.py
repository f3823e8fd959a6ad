#!/usr/bin/python3
"""
test_live_privs.py NFSENSORD [SOURCE_DIR]: least privilege at run time (nfsensord(8), SECURITY).

Root, network namespaces (livenet.py). A test user is made with useradd (removed at the end).
The daemon starts as root with `user:` (that user) and `group: nogroup` in its configuration,
captures two veth interfaces (promiscuous, interface a with two PACKET_FANOUT workers) and
exports to a TCP collector. The kernel's own figures are read back: /proc/PID/status of every
thread (uid, gid, groups, CapEff/CapPrm only CAP_NET_RAW, CapInh/CapAmb 0, the bounding set
CAP_NET_RAW, NoNewPrivs 1) and the devices' promiscuity count (`ip -d link`). That the count
rises and the fanout group forms while the process holds CAP_NET_RAW alone is the measurement
behind keeping CAP_NET_ADMIN never. Interface b then goes down and up: the worker reopens its
capture after the drop (what keeping CAP_NET_RAW permitted is for), and UDP datagrams sent
before and after are all in the collector's records. A second start the way systemd starts
the unit (the user, CAP_NET_RAW ambient, via setpriv) clears the ambient set the same way.
The failures: started as an unprivileged user without CAP_NET_RAW, and as root under a bounding
set without it (a unit whose CapabilityBoundingSet= lacks it): exit 77, nothing started, and an
error that names CAP_NET_RAW and how to grant it; `user:` from a non-root user: exit 77.
"""
import os
import pwd
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livenet  # noqa: E402
import nfstest  # noqa: E402

DOMAINS = (41, 42)
CAP_NET_RAW = 1 << 13
SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[3])):
    s.sendto(b"p" * 32, (sys.argv[1], int(sys.argv[2])))
"""


def proc_status(pid):
    """{field: value} of /proc/PID/status for the process and each of its threads."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            out[tid] = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    return out


def promiscuity(net, ifname):
    r = livenet.sh(*net.exec_argv(net.sensor, ["ip", "-d", "link", "show", ifname]))
    words = r.stdout.split()
    return int(words[words.index("promiscuity") + 1])


class TestUser:
    """A system user made for this test, removed by close()."""

    def __init__(self):
        self.name = "nfspkg%d" % (os.getpid() % 100000)
        livenet.sh("useradd", "--system", "--user-group", "--no-create-home",
                   "--shell", "/usr/sbin/nologin", self.name)
        self.pw = pwd.getpwnam(self.name)

    def close(self):
        livenet.sh("userdel", self.name, check=False)
        livenet.sh("groupdel", self.name, check=False)


def main():
    ck = nfstest.Checker("test_live_privs")
    daemon = nfstest.need_daemon()
    livenet.need_root_netns()
    for tool in ("useradd", "userdel", "setpriv"):
        nfstest.need_tool(tool)
    with nfstest.tempdir("privs") as work:
        os.chmod(work, 0o755)
        user = TestUser()
        try:
            with livenet.Net(base=234) as net:
                run(ck, daemon, net, work, user)
                failures(ck, daemon, net, work, user)
        finally:
            user.close()
    ck.finish()


def send(net, i, port, n):
    r = net.run(net.sensor, [sys.executable, "-c", SENDER, net.peer_ip(i), str(port), str(n)])
    if r.returncode != 0:
        raise RuntimeError("sender: " + nfstest.tail(r.stderr))


def check_status(ck, label, pid, uid, gid, bounding):
    threads = proc_status(pid)
    bad = {}
    for tid, st in threads.items():
        want = {"Uid": "\t".join([str(uid)] * 4), "Gid": "\t".join([str(gid)] * 4),
                "CapEff": "%016x" % CAP_NET_RAW, "CapPrm": "%016x" % CAP_NET_RAW,
                "CapInh": "%016x" % 0, "CapAmb": "%016x" % 0, "NoNewPrivs": "1"}
        if bounding:
            want["CapBnd"] = "%016x" % CAP_NET_RAW
        for k, v in want.items():
            if st.get(k, "").strip() != v:
                bad["%s %s" % (tid, k)] = (st.get(k), v)
        if st.get("Groups", "").split() not in ([str(gid)], []):
            bad["%s Groups" % tid] = st.get("Groups")
    main_st = threads[str(pid)]
    ck.info("%s: %d threads; %s" % (label, len(threads), ", ".join(
        "%s %s" % (k, main_st.get(k, "").split("\t")[0]) for k in
        ("Uid", "Gid", "Groups", "CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd",
         "NoNewPrivs"))))
    ck.check("%s: every thread uid %d gid %d, CapEff = CapPrm = CAP_NET_RAW, CapInh = CapAmb = 0, "
             "NoNewPrivs 1%s" % (label, uid, gid, ", CapBnd = CAP_NET_RAW" if bounding else ""),
             len(threads) >= 3 and not bad, str(bad) or "%d threads" % len(threads))


def run(ck, daemon, net, work, user):
    a, b = net.ifaces
    sink = livenet.Sink(net, work)
    conf, log = os.path.join(work, "nfsensor.yaml"), os.path.join(work, "daemon.log")
    livenet.write_config(conf, net, sink.port, DOMAINS, workers=[2, 1],
                         extra="user: %s\ngroup: nogroup\n" % user.name)
    os.chmod(conf, 0o644)
    before = [promiscuity(net, i) for i in (a, b)]
    with open(log, "w") as logf:
        d = net.spawn(net.sensor, [daemon, "--config", conf], stderr=logf)
    ok = livenet.wait_for(lambda: livenet.read_log(log).count(": capturing (") == 2, 20)
    ck.check("both interfaces capturing (a with 2 fanout workers) after the switch", ok and
             "%s: capturing (observation domain %d, 2 workers)" % (a, DOMAINS[0])
             in livenet.read_log(log), livenet.read_log(log))
    if not ok:
        return
    ck.check("the log names the user and CAP_NET_RAW alone",
             "running as user %s (uid %d), capabilities cap_net_raw\n" %
             (user.name, user.pw.pw_uid) in livenet.read_log(log), livenet.read_log(log))
    check_status(ck, "root with user: %s, group: nogroup" % user.name, d.pid, user.pw.pw_uid,
                 65534, bounding=True)
    during = [promiscuity(net, i) for i in (a, b)]
    ck.info("promiscuity count (ip -d link) of a, b: %s before, %s while capturing" %
            (before, during))
    ck.check("promiscuous mode with CAP_NET_RAW only: the kernel counts it on both devices "
             "(a: one per fanout worker)", during == [before[0] + 2, before[1] + 1],
             "%s -> %s" % (before, during))

    send(net, 0, 7001, 20)
    send(net, 1, 7002, 20)
    time.sleep(0.5)  # the ring's block timeout, before b goes down
    livenet.sh("ip", "-n", net.sensor, "link", "set", b, "down")
    ck.check("interface b down is noticed, not fatal",
             livenet.wait_for(lambda: "capturing again when it comes back" in
                              livenet.read_log(log) and d.poll() is None, 10),
             livenet.read_log(log))
    livenet.sh("ip", "-n", net.sensor, "link", "set", b, "up")
    ck.check("interface b reopened after the privilege drop",
             livenet.wait_for(lambda: "%s: capturing again" % b in livenet.read_log(log), 20),
             livenet.read_log(log))
    time.sleep(0.3)
    send(net, 1, 7003, 30)
    time.sleep(0.5)
    check_status(ck, "after the reopen", d.pid, user.pw.pw_uid, 65534, bounding=True)

    rc = livenet.terminate(d)
    ck.check("SIGTERM: exit 0", rc == 0, "rc=%s\n%s" % (rc, nfstest.tail(livenet.read_log(log))))
    sink.stop()
    recs = sink.records()
    got = {}
    for r in recs:
        if r["proto"] == 17 and r["dport"] in (7001, 7002, 7003):
            key = (r["domain"], r["dport"])
            got[key] = got.get(key, 0) + r["fwd_packets"]
    want = {(DOMAINS[0], 7001): 20, (DOMAINS[1], 7002): 20, (DOMAINS[1], 7003): 30}
    ck.check("every datagram exported, before and after b's reopen (collector's records)",
             got == want, "got %s, want %s" % (got, want))


def failures(ck, daemon, net, work, user):
    sink_dir = os.path.join(work, "ambient")
    os.makedirs(sink_dir)
    sink = livenet.Sink(net, sink_dir)  # a collector that is there: the stop does not wait
    conf = os.path.join(work, "plain.yaml")
    livenet.write_config(conf, net, sink.port, DOMAINS)
    os.chmod(conf, 0o644)
    conf_user = os.path.join(work, "user.yaml")
    livenet.write_config(conf_user, net, 4739, DOMAINS, extra="user: nobody\n")
    os.chmod(conf_user, 0o644)
    as_user = ["setpriv", "--reuid=%d" % user.pw.pw_uid, "--regid=%d" % user.pw.pw_gid,
               "--clear-groups"]
    cases = (
        ("an unprivileged user without CAP_NET_RAW",
         as_user + ["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"], conf),
        ("root under a bounding set without CAP_NET_RAW",
         ["setpriv", "--inh-caps=-all", "--bounding-set=-net_raw"], conf),
    )
    for label, prefix, c in cases:
        r = net.run(net.sensor, prefix + ["--", daemon, "--config", c])
        err = r.stderr.decode(errors="replace")
        ck.info("%s: exit %d: %s" % (label, r.returncode, err.strip()))
        ck.check("%s: exit 77, nothing started, the error names CAP_NET_RAW and how to grant it"
                 % label, r.returncode == 77 and "capability CAP_NET_RAW" in err and
                 "AmbientCapabilities=CAP_NET_RAW" in err and "setcap cap_net_raw+ep" in err and
                 "nothing started" in err and "capturing (" not in err, err)
    ambient = as_user + ["--inh-caps=+net_raw", "--ambient-caps=+net_raw"]
    r = net.run(net.sensor, ambient + ["--", daemon, "--config", conf_user])
    err = r.stderr.decode(errors="replace")
    ck.check("user: from a non-root user: exit 77, the error says only root can switch",
             r.returncode == 77 and "only root can switch" in err, err)

    # As systemd starts the unit: its own user, CAP_NET_RAW ambient.
    log = os.path.join(work, "ambient.log")
    with open(log, "w") as logf:
        d = net.spawn(net.sensor, ambient + ["--", daemon, "--config", conf], stderr=logf)
    ok = livenet.wait_for(lambda: livenet.read_log(log).count(": capturing (") == 2, 20)
    ck.check("as the user with ambient CAP_NET_RAW (like the unit): capturing", ok,
             livenet.read_log(log))
    if ok:
        check_status(ck, "ambient start", d.pid, user.pw.pw_uid, user.pw.pw_gid, bounding=False)
    rc = livenet.terminate(d)
    ck.check("ambient start: SIGTERM, exit 0", rc == 0, "rc=%s" % rc)
    sink.stop()


if __name__ == "__main__":
    main()
