#!/usr/bin/python3
"""
test_profile_live.py NFSENSORD [SOURCE_DIR]: collector profiles in the daemon, across a reload
(root, network namespaces; skipped otherwise).

nfsensord captures one veth interface as --user nobody and exports over UDP to nfcapd in the
sensor's namespace. First with the default profile: a ping's flow arrives as one biflow record
(both directions' packets, original addresses). Then SIGHUP with `records: uniflow` and
`anonymize` (a key owned by nobody, mode 0600, which the daemon, now nobody, reads on the
reload): the next ping's flow arrives as two records, one per direction, flowDirection 0 and
1, with the addresses cryptopan_map gives for the key, and no record after the reload holds an
original address. A profile change alone must give the collector a new exporter.
"""
import os
import pwd
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livenet  # noqa: E402
import nfstest as T  # noqa: E402
import profiles_util as U  # noqa: E402


def config(path, net, port, extra):
    with open(path, "w") as f:
        f.write("interfaces:\n  - {name: %s, observation_domain: 5}\n"
                "flows: {idle_timeout: 1s}\n"
                "collectors:\n  - address: 127.0.0.1:%d\n%s" % (net.ifaces[0], port, extra))
    os.chmod(path, 0o644)


def ping_flows(nf_records, a, b):
    return [r for r in nf_records if r["protocol"] == 1 and {r["src_ip"], r["dst_ip"]} <= {a, b}]


def run(ck, daemon, tool, net, work):
    spool = os.path.join(work, "spool")
    os.makedirs(spool)
    port = 39000 + os.getpid() % 1000
    nfcapd = net.spawn(net.sensor, [T.need_tool("nfcapd"), "-b", "127.0.0.1", "-p", str(port),
                                    "-w", spool, "-t", "3600"])
    key = os.path.join(work, "cp.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    nobody = pwd.getpwnam("nobody")
    os.chown(key, nobody.pw_uid, -1)
    os.chmod(work, 0o755)
    conf, log = os.path.join(work, "nfsensor.yaml"), os.path.join(work, "daemon.log")
    config(conf, net, port, "")
    with open(log, "w") as logf:
        d = subprocess.Popen(net.exec_argv(net.sensor, [daemon, "--config", conf, "--user",
                                                        "nobody"]),
                             stderr=logf, start_new_session=True)
    net.procs.append(d)
    ok = livenet.wait_for(lambda: "capturing (" in livenet.read_log(log), 20)
    ck.check("daemon capturing as nobody", ok, livenet.read_log(log))
    if not ok:
        return
    time.sleep(0.5)
    ck.check("ping before the reload", net.ping(0, 3).returncode == 0)
    time.sleep(3.0)  # idle timeout 1 s: the flow is exported with the default profile
    config(conf, net, port, "    records: uniflow\n    anonymize: {key_file: %s}\n" % key)
    t_hup = time.time()
    d.send_signal(signal.SIGHUP)
    ok = livenet.wait_for(lambda: "reload" in livenet.read_log(log).lower() and
                          "keeping the running one" not in livenet.read_log(log), 10)
    time.sleep(1.0)
    text = livenet.read_log(log)
    ck.check("reload with records: uniflow and the key of nobody accepted",
             d.poll() is None and "error" not in text[text.find("reload"):].lower(),
             T.tail(text))
    ck.check("ping after the reload", net.ping(0, 4).returncode == 0)
    time.sleep(3.0)
    rc = livenet.terminate(d)
    ck.check("SIGTERM: exit 0", rc == 0, "rc %s: %s" % (rc, T.tail(livenet.read_log(log))))
    time.sleep(1.0)
    nfcapd.send_signal(signal.SIGTERM)
    nfcapd.wait(10)
    dump = T.run([T.need_tool("nfdump"), "-R", spool, "-o", "json"], timeout=60)
    text = dump.stdout.decode("utf-8", "replace").strip()
    import json
    recs = [U.nfdump_flow(r) for r in (json.loads(text) if text.startswith("[") else [])]
    s, p = net.sensor_ip(0), net.peer_ip(0)
    os.chown(key, 0, -1)  # cryptopan_map runs as root: its key must be root's
    amap = dict(zip(sorted([s, p]), subprocess.run(
        [tool, key], input="\n".join(sorted([s, p])) + "\n", capture_output=True, text=True,
        check=True).stdout.split()))
    before = ping_flows(recs, s, p)
    after = ping_flows(recs, amap[s], amap[p])
    ck.info("t_hup %.1f; records: %s" % (t_hup, recs))
    ck.check("before: one biflow record of the ping, original addresses, 3 echo requests",
             len(before) == 1 and before[0]["packets"] == 3 and
             before[0]["src_ip"] == s, str(before))
    ck.check("after: two uniflow records (4 echo requests, 4 replies), flowDirection 0 and 1, "
             "anonymised addresses",
             sorted((r["src_ip"], r["packets"], r["direction"]) for r in after) ==
             sorted([(amap[s], 4, 0), (amap[p], 4, 1)]), str(after))
    ck.check("no record but the first holds an original address",
             len([r for r in recs if {r["src_ip"], r["dst_ip"]} & {s, p}]) == 1, str(recs))


def main():
    daemon = T.need_daemon()
    livenet.need_root_netns()
    if len(sys.argv) < 4:
        T.skip("usage: test_profile_live.py NFSENSORD SOURCE_DIR CRYPTOPAN_MAP")
    T.need_tool("nfcapd")
    ck = T.Checker("test_profile_live")
    with T.tempdir("profile-live") as work:
        with livenet.Net(base=235, pairs=1) as net:
            run(ck, daemon, sys.argv[3], net, work)
    ck.finish()


if __name__ == "__main__":
    main()
