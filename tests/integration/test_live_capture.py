#!/usr/bin/python3
"""
test_live_capture.py NFSENSORD [SOURCE_DIR]: live capture on two interfaces, end to end.

Two veth pairs (livenet.py): the sensor namespace captures on its ends, the peer namespaces
serve TLS (openssl s_server, self-signed, any SNI) and DNS; clients in the sensor namespace
run curl with SNI, DNS queries and ping. nfsensord captures both interfaces (the first with
two workers joined by PACKET_FANOUT) and exports over TCP to a collector on loopback. The
collector must get every flow with the right SNI, application (dpi is on by default) and
observation domain per interface, each once. Midway the second interface goes down and up:
capture resumes by itself and later flows are exported too.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livenet  # noqa: E402
import nfstest  # noqa: E402

DOMAINS = (101, 202)


def main():
    ck = nfstest.Checker("test_live_capture")
    daemon = nfstest.need_daemon()
    livenet.need_root_netns()
    for tool in ("curl", "openssl", "ping", "ss"):
        nfstest.need_tool(tool)
    with nfstest.tempdir("live") as work:
        with livenet.Net(base=231) as net:
            run(ck, daemon, net, work)
    ck.finish()


def run(ck, daemon, net, work):
    net.start_servers(work)
    sink = livenet.Sink(net, work)
    conf, log = os.path.join(work, "nfsensor.yaml"), os.path.join(work, "daemon.log")
    livenet.write_config(conf, net, sink.port, DOMAINS, workers=[2, 1])
    with open(log, "w") as logf:
        d = net.spawn(net.sensor, [daemon, "--config", conf], stderr=logf)
    a, b = net.ifaces
    ck.check("both interfaces capturing",
             livenet.wait_for(lambda: livenet.read_log(log).count(": capturing (") == 2, 20),
             livenet.read_log(log))

    ck.check("curl TLS alpha.test (interface a)", net.curl(0, "alpha.test").returncode == 0)
    ck.check("curl TLS bravo.test (interface b)", net.curl(1, "bravo.test").returncode == 0)
    ck.check("DNS www.alpha.test", net.dns(0, "www.alpha.test").returncode == 0)
    ck.check("DNS www.bravo.test", net.dns(1, "www.bravo.test").returncode == 0)
    ck.check("ping a", net.ping(0).returncode == 0)
    ck.check("ping b", net.ping(1).returncode == 0)

    # Interface b goes down and comes back: capture resumes without a restart. (Packets still
    # in the ring's open block when it goes down are lost with it: wait for the block timeout.)
    time.sleep(0.5)
    livenet.sh("ip", "-n", net.sensor, "link", "set", b, "down")
    ck.check("interface b down is noticed, not fatal",
             livenet.wait_for(lambda: "%s: capture" % b in livenet.read_log(log)
                              and d.poll() is None, 10), livenet.read_log(log))
    livenet.sh("ip", "-n", net.sensor, "link", "set", b, "up")
    ck.check("interface b captured again",
             livenet.wait_for(lambda: "%s: capturing again" % b in livenet.read_log(log), 15),
             livenet.read_log(log))
    time.sleep(0.3)
    ck.check("curl TLS charlie.test (interface b, after the outage)",
             net.curl(1, "charlie.test").returncode == 0)
    time.sleep(0.5)  # the ring's block timeout

    rc = livenet.terminate(d)
    ck.check("SIGTERM: exit 0", rc == 0, "rc=%s\n%s" % (rc, nfstest.tail(livenet.read_log(log))))
    sink.stop()
    recs = sink.records()
    ck.info("%d flow records over %d connections" % (len(recs), len(sink.connections())))
    ck.check("one connection per interface", len(sink.connections()) == 2,
             str(sink.connections()))

    peer = {net.peer_ip(0): DOMAINS[0], net.peer_ip(1): DOMAINS[1]}
    wrong = [r for r in recs if (r["src"] in peer or r["dst"] in peer)
             and r["domain"] != peer.get(r["src"], peer.get(r["dst"]))]
    ck.check("every flow in its interface's observation domain", not wrong, str(wrong[:3]))

    def find(i, proto, dport, sni=None):
        return [r for r in recs if r["domain"] == DOMAINS[i] and r["proto"] == proto
                and (dport is None or r["dport"] == dport)
                and (sni is None or r["sni"] == sni)]

    for i, name in ((0, "alpha.test"), (1, "bravo.test"), (1, "charlie.test")):
        tls = find(i, 6, 4433, name)
        ck.check("TLS %s: one record, SNI and application" % name,
                 len(tls) == 1 and "TLS" in (tls[0]["app"] or ""),
                 str(tls or [r for r in recs if r["proto"] == 6]))
    for i, name in ((0, "www.alpha.test"), (1, "www.bravo.test")):
        dns = find(i, 17, 53, name)
        ck.check("DNS %s: server name and application" % name,
                 len(dns) == 1 and "DNS" in (dns[0]["app"] or ""),
                 str(dns or [r for r in recs if r["proto"] == 17]))
    for i in (0, 1):
        icmp = find(i, 1, None)
        ck.check("ping on interface %s: ICMP flow with its 3 echo requests" % "ab"[i],
                 len(icmp) == 1 and icmp[0]["packets"] == 6 and "ICMP" in (icmp[0]["app"] or ""),
                 str(icmp))


if __name__ == "__main__":
    main()
