#!/usr/bin/python3
"""
test_export_outage.py NFSENSORD SOURCE_DIR EXPORT_HARNESS

A TCP collector killed (SIGKILL) in the middle of a run and restarted on the same port 5 s
later. The collector is tcp_sink.py, which appends the stream to a file like socat; the files
of both incarnations are read with ipfixwire.py, cut at the last whole message.

 1. nfsensord --read a 50,000-flow capture --collector tcp://...: every flow reaches the
    collector, counted by key (source address and port, unique per flow); each key carries one
    flowId. Duplicates (records replayed after the reset, which the collector may already have
    read) are counted and reported: the guarantee is at-least-once, exactly once per flowId.
 2. The library (export_harness) with a spool too small for the outage: the flows that never
    arrive are exactly the exporter's exporter.spool_full, which the exporting process
    reliability record (notSentFlowTotalCount, RFC 7011 §4.3) in the stream also states.
 3. The same with a small memory spool and a disk spool, and a collector that stalls before
    it is killed, so it dies with unread data and resets the connection: nothing lost, the
    exporter replays its window, duplicates come only from that replay (2 s outage).
 4. A collector killed right after a read, before storing it: its receive buffer is (almost
    always) empty, so its kernel closes with a FIN, yet what it read is lost. A FIN the exporter did not ask for
    (it had not closed its side) is no proof of storage: nothing lost, the exporter replays.
    Case 2 meets this by chance (the kill lands between the sink's recv and its write).
The collector's receive buffer is set to 64 KiB so that what it can hold unread stays within
the exporter's replay window (docs/collectors.md).
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ipfixwire as W  # noqa: E402
import nfstest as T  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FLOWS = 50000
OUTAGE_S = 5


def big_capture(path, n):
    """n one-packet UDP flows, 10.0.x.y:port -> 192.0.2.53:53, 20 us apart."""
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    out = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
    keys = set()
    for i in range(n):
        src = bytes([10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])
        sport = 1024 + i % 60000
        payload = b"q" * 20
        udp = struct.pack("!HHHH", sport, 53, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0, src,
                         bytes([192, 0, 2, 53]))
        frame = eth + ip + udp
        t = 1700000000 * 1000000 + i * 20
        out.append(struct.pack("<IIII", t // 1000000, t % 1000000, len(frame), len(frame)))
        out.append(frame)
        keys.add((src, sport))
    with open(path, "wb") as f:
        f.write(b"".join(out))
    return keys


def free_tcp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def sink(port, out, rate=0, stall_after=0, die_after=0):
    cmd = ["/usr/bin/python3", os.path.join(HERE, "tcp_sink.py"), str(port), out,
           "--rcvbuf", "65536"]
    if rate:
        cmd += ["--rate", str(rate)]
    if stall_after:
        cmd += ["--stall-after", str(stall_after)]
    if die_after:
        cmd += ["--die-after", str(die_after)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, start_new_session=True)
    line = p.stdout.readline().decode()
    return p, int(line.split()[1]) if line.startswith("listening") else 0


def wait_size(path, size, timeout):
    t_end = time.time() + timeout
    while time.time() < t_end:
        if os.path.exists(path) and os.path.getsize(path) >= size:
            return True
        time.sleep(0.02)
    return False


def outage(ck, label, tmp, start_client, kill_at_bytes, rate=0, outage_s=OUTAGE_S,
           stall=False, dies=False):
    """Runs the client against sink A, kills A once it holds kill_at_bytes (stall: A stops
    reading there, so it dies with unread data; dies: A kills itself there after a read it
    does not store), starts sink B on the same port outage_s later; returns (client rc,
    stdout, stderr, [flow records], [options records], sequence errors)."""
    port = free_tcp_port()
    a_out, b_out = os.path.join(tmp, label + ".a"), os.path.join(tmp, label + ".b")
    a, port = sink(port, a_out, rate, kill_at_bytes if stall else 0,
                   kill_at_bytes if dies else 0)
    client = start_client(port)
    got = wait_size(a_out, kill_at_bytes, 30)
    if stall:
        time.sleep(0.5)  # its receive buffer fills
    ck.check("%s: collector A received %d bytes before the kill%s" %
             (label, kill_at_bytes, ", then stalled" if stall else ""), got)
    if dies:
        try:
            a.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        ck.check("%s: collector A killed itself after a read it did not store" % label,
                 a.returncode == -signal.SIGKILL, "returncode %s" % a.returncode)
    if a.poll() is None:
        os.killpg(a.pid, signal.SIGKILL)
    a.wait()
    killed = time.time()
    time.sleep(outage_s)
    b, _ = sink(port, b_out)
    ck.check("%s: collector B restarted on port %d %.1f s after the kill" %
             (label, port, time.time() - killed), b.poll() is None)
    try:
        out, err = client.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        client.kill()
        out, err = client.communicate()
    try:
        b.wait(timeout=10)
    except subprocess.TimeoutExpired:
        T.stop(b)
    flows, options, seq_errors = [], [], 0
    for path in (a_out, b_out):
        if not os.path.exists(path):
            continue
        f, o, s = W.read_stream(path)
        flows += f
        options += o
        seq_errors += s.sequence_errors
        T.Checker.info(ck, "%s: %d bytes, %d messages, %d flow records, %d cut at the end" %
                       (os.path.basename(path), os.path.getsize(path), s.messages, len(f),
                        s.truncated))
    return client.returncode, out.decode(errors="replace"), err.decode(errors="replace"), \
        flows, options, seq_errors


def counters(text):
    c = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            c[parts[0]] = int(parts[1])
    return c


def by_key(flows):
    keys, ids = {}, {}
    for r in flows:
        k = W.flow_key(r)
        keys[k] = keys.get(k, 0) + 1
        ids.setdefault(k, set()).add(W.uint(r[W.FLOW_ID]))
    return keys, ids


def daemon_case(ck, daemon, tmp):
    pcap = os.path.join(tmp, "big.pcap")
    t0 = time.time()
    keys = big_capture(pcap, FLOWS)
    ck.info("generated %d flows in %.1f s" % (len(keys), time.time() - t0))

    def start(port):
        return subprocess.Popen([daemon, "--read", pcap, "--collector",
                                 "tcp://127.0.0.1:%d" % port, "--idle-timeout", "120"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    rc, _, err, flows, _, seq = outage(ck, "nfsensord", tmp, start, 1 << 20, rate=4 << 20)
    ck.check("nfsensord: exits 0 after the collector came back", rc == 0,
             "rc %s: %s" % (rc, T.tail(err)))
    got, ids = by_key(flows)
    missing = keys - set(got)
    dups = sum(v - 1 for v in got.values())
    ck.info("nfsensord: %d records received, %d distinct keys, %d duplicates (replayed after "
            "the reset), %d missing" % (len(flows), len(got), dups, len(missing)))
    ck.check("nfsensord: every one of the %d flows reached the collector" % len(keys),
             not missing and set(got) == keys, "%d missing" % len(missing))
    ck.check("nfsensord: exactly once per key: each key has one flowId",
             all(len(v) == 1 for v in ids.values()))
    ck.check("nfsensord: sequence numbers consecutive on each connection", seq == 0,
             "%d errors" % seq)


def harness_case(ck, harness, tmp, label, extra, expect_loss, stall=False,
                 outage_s=OUTAGE_S, dies=False):
    def start(port):
        return subprocess.Popen([harness, "--records", str(FLOWS), "--rate", "20000",
                                 "--drain-ms", "30000"] + extra +
                                ["--collector", "tcp://127.0.0.1:%d" % port],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    rc, out, err, flows, options, seq = outage(ck, label, tmp, start, 512 << 10,
                                               outage_s=outage_s, stall=stall, dies=dies)
    c = counters(out)
    ck.check("%s: harness ran" % label, rc == 0 and "result" in out,
             "rc %s: %s %s" % (rc, T.tail(out), T.tail(err)))
    got, ids = by_key(flows)
    dropped = c.get("exporter.collector[0].spool_full", -1)
    not_sent = [W.uint(o[W.NOT_SENT_FLOWS]) for o in options if W.NOT_SENT_FLOWS in o]
    ck.info("%s: %d distinct flows received of %d, spool_full %d, replayed %d, spilled to "
            "disk up to %s, notSentFlowTotalCount %s" %
            (label, len(got), FLOWS, dropped, c.get("exporter.collector[0].replayed", -1),
             "-" if "--spool-dir" not in extra else "see spool_disk", not_sent[-1:]))
    ck.check("%s: loss (%d) equals exporter.spool_full (%d)" % (label, FLOWS - len(got),
                                                               dropped),
             FLOWS - len(got) == dropped)
    ck.check("%s: the last exporting reliability record says the same" % label,
             bool(not_sent) and not_sent[-1] == dropped, "records: %s" % not_sent)
    ck.check("%s: %s" % (label, "flows were dropped" if expect_loss else "nothing dropped"),
             (dropped > 0) == expect_loss, "spool_full %d" % dropped)
    ck.check("%s: every flowId once per key" % label, all(len(v) == 1 for v in ids.values()))
    replayed = c.get("exporter.collector[0].replayed", 0)
    dups = len(flows) - len(got)
    ck.info("%s: %d duplicates received, %d records replayed" % (label, dups, replayed))
    ck.check("%s: duplicates (%d) only from the replay (%d)" % (label, dups, replayed),
             dups <= replayed)
    if stall or dies:
        ck.check("%s: the %s made the exporter replay" %
                 (label, "reset with unread data" if stall else "collector's early close"),
                 replayed > 0)
    ck.check("%s: sequence numbers consecutive on each connection" % label, seq == 0)
    ck.check("%s: close reports the loss (result fail) exactly when there is one" % label,
             ("result ok" in out) == (dropped == 0), T.tail(out, 300))


def main():
    daemon = T.need_daemon()
    if len(sys.argv) < 4 or not os.access(sys.argv[3], os.X_OK):
        T.skip("export_harness not given")
    harness = sys.argv[3]
    ck = T.Checker("test_export_outage")
    with T.tempdir("outage") as tmp:
        daemon_case(ck, daemon, tmp)
        harness_case(ck, harness, tmp, "small spool", ["--spool", str(1 << 20), "--replay",
                                                       str(256 << 10)], True)
        spool_dir = os.path.join(tmp, "spool")
        os.makedirs(spool_dir)
        harness_case(ck, harness, tmp, "disk spool, reset", [
            "--spool", str(1 << 20), "--replay", str(256 << 10), "--spool-dir", spool_dir,
            "--spool-disk", str(64 << 20)], False, stall=True, outage_s=2)
        left = os.listdir(spool_dir)
        ck.check("disk spool: its files are removed at close", not left, str(left))
        harness_case(ck, harness, tmp, "killed after reading", ["--replay", str(256 << 10)],
                     False, outage_s=2, dies=True)
    ck.finish()


if __name__ == "__main__":
    main()
