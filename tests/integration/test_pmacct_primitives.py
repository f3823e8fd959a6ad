#!/usr/bin/python3
"""docs/collectors.md's pmacct recipe, run: nfacctd with the aggregate_primitives file the build
generates (tools/nfs-elements --pmacct) receives nfsensord over UDP, and every primitive of
every flow equals nfsensord's CSV (tunnel_id, the DPI strings and ids, community_id, ...).

usage: test_pmacct_primitives.py NFSENSORD SOURCE_DIR PRIMITIVES_FILE
"""
import csv
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402

# Primitives with no CSV column of the same name: what the CSV holds for them.
NO_COLUMN = {"accountedoctetdeltacount": "src2dst_bytes",
             "reverseaccountedoctetdeltacount": "dst2src_bytes"}


def wait_for(log, text, proc, timeout=15):
    t_end = time.time() + timeout
    while time.time() < t_end and proc.poll() is None:
        log.seek(0)
        if text in log.read():
            return True
        time.sleep(0.1)
    return False


def primitives(path):
    out = []
    for line in open(path):
        if line.startswith("name="):
            out.append(dict(kv.split("=", 1) for kv in line.split()))
    return out


def main():
    daemon = T.need_daemon()
    nfacctd = T.need_tool("nfacctd")
    prim_file = sys.argv[3] if len(sys.argv) > 3 else None
    if not prim_file or not os.path.exists(prim_file):
        T.skip("no generated primitives file")
    ck = T.Checker("test_pmacct_primitives")
    prims = primitives(prim_file)
    ck.check("the generated file names %d primitives" % len(prims), len(prims) >= 10)
    names = [p["name"] for p in prims]
    with T.tempdir("labels-pmacct") as tmp:
        pcaps, _ = T.generate(tmp)
        port = T.free_udp_port()
        cfg, out = os.path.join(tmp, "nfacctd.conf"), os.path.join(tmp, "pmacct.csv")
        agg = ["src_host", "dst_host", "src_port", "dst_port", "proto", "timestamp_start"]
        with open(cfg, "w") as f:
            f.write("daemonize: false\nnfacctd_ip: 127.0.0.1\nnfacctd_port: %d\n"
                    "aggregate_primitives: %s\nplugins: print\naggregate: %s\n"
                    "print_output: csv\nprint_output_file: %s\nprint_refresh_time: 3600\n"
                    "timestamps_since_epoch: true\n"
                    % (port, prim_file, ", ".join(agg + names), out))
        log = open(os.path.join(tmp, "nfacctd.log"), "w+")
        acct = subprocess.Popen([nfacctd, "-f", cfg], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        ready = wait_for(log, "waiting for NetFlow/IPFIX data", acct)
        if not ck.check("nfacctd starts with the generated file", ready,
                        T.tail(open(log.name).read())):
            T.stop(acct, signal.SIGINT)
            ck.finish()
        out_csv = os.path.join(tmp, "nfs.csv")
        r = T.run([daemon, "--read", pcaps[0], "--csv", out_csv,
                   "--collector", "udp://127.0.0.1:%d" % port] + T.daemon_args("default"))
        ck.check("nfsensord exits 0", r.returncode == 0, T.tail(r.stderr))
        time.sleep(1.0)
        T.stop(acct, signal.SIGINT)  # nfacctd ignores SIGTERM; SIGINT writes its cache out
        log.close()
        rows = list(csv.DictReader(open(out_csv)))
        if not ck.check("nfacctd wrote its table", os.path.exists(out)):
            ck.finish()
        with open(out, newline="") as f:
            got = [{k.lower(): v for k, v in g.items()} for g in csv.DictReader(f)]
        ck.check("a line per flow (%d)" % len(rows), len(got) == len(rows), "%d" % len(got))
        by_key = {(g["src_ip"], int(g["src_port"]), g["dst_ip"], int(g["dst_port"]),
                   round(float(g["timestamp_start"]) * 1000)): g for g in got}
        wrong, compared = [], 0
        for row in rows:
            key = (row["src_ip"], int(row["src_port"]), row["dst_ip"], int(row["dst_port"]),
                   int(row["src2dst_first_seen_ms"]))
            g = by_key.get(key)
            if g is None:
                wrong.append("flow %s not in nfacctd's table" % row["id"])
                continue
            for n in names:
                column = NO_COLUMN.get(n.lower(), n)
                if column not in row:
                    continue  # the ids: IPFIX only (test_app_labels checks them)
                compared += 1
                if g.get(n.lower()) != row[column]:
                    wrong.append("flow %s %s: nfacctd %r, CSV %r" %
                                 (row["id"], n, g.get(n.lower()), row[column]))
        ck.check("every primitive with a CSV column equals it, flow by flow (%d values)" %
                 compared, compared > 0 and not wrong, "; ".join(wrong[:5]))
    ck.finish()


if __name__ == "__main__":
    main()
