#!/usr/bin/python3
"""
test_export_rotation.py NFSENSORD SOURCE_DIR EXPORT_HARNESS

File rotation under load: export_harness pushes 60,000 records in about 2 s to a file
collector named DIR/flows-%Y%m%d-%H%M%S.ipfix, rotated every 256 KiB and every second (so
several files start within the same second and get numbered names). While it runs, every file
that appears under its final name is read by ipfixDump at once: a finished file is never
partial, even mid-run. At the end: no NAME.tmp is left, every file is complete (whole
messages, templates first: ipfixDump reads it without error and finds its flows), and the
files hold every record exactly once.
Also: the CLI's --write FILE is written as FILE.tmp and renamed when complete, while a
character device (a /dev/null made here with mknod) or a FIFO is written in place and stays
what it was (renaming over /dev/null once turned it into a plain file).
"""
import glob
import os
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ipfixwire as W  # noqa: E402
import nfstest as T  # noqa: E402

RECORDS = 60000


def dump_ok(ipfixdump, path):
    d = subprocess.run([ipfixdump, "--rfc5610", "-i", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    text = d.stdout.decode("utf-8", "replace")
    flows = sum(1 for b in text.split("--- ")[1:] if b.startswith("data record") and
                "flowEndReason" in b)
    return d.returncode == 0 and not d.stderr.strip(), flows, d.stderr.decode(errors="replace")


def main():
    T.need_daemon()
    ipfixdump = T.need_tool("ipfixDump")
    if len(sys.argv) < 4 or not os.access(sys.argv[3], os.X_OK):
        T.skip("export_harness not given")
    harness = sys.argv[3]
    ck = T.Checker("test_export_rotation")
    with T.tempdir("rotation") as tmp:
        pattern = os.path.join(tmp, "flows-%Y%m%d-%H%M%S.ipfix")
        p = subprocess.Popen([harness, "--records", str(RECORDS), "--rate", "30000",
                              "--rotate-bytes", str(256 << 10), "--rotate-s", "1",
                              "--collector", pattern], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        seen, bad_live = {}, []
        while p.poll() is None:
            for f in glob.glob(os.path.join(tmp, "flows-*.ipfix")):
                if f not in seen:
                    ok, n, err = dump_ok(ipfixdump, f)
                    seen[f] = (ok, n, err)
                    if not ok or n == 0:
                        bad_live.append("%s: %s" % (os.path.basename(f), err.strip()[:200]))
            time.sleep(0.05)
        out, err = p.communicate()
        out = out.decode(errors="replace")
        ck.check("harness: every record exported", "result ok" in out, T.tail(out + err.decode()))
        ck.info("%d files were read by ipfixDump while the export ran" % len(seen))
        ck.check("files read mid-run (%d) are complete and readable" % len(seen),
                 len(seen) > 0 and not bad_live, "; ".join(bad_live[:3]))
        tmps = glob.glob(os.path.join(tmp, "*.tmp"))
        ck.check("no NAME.tmp left", not tmps, str(tmps))
        files = sorted(glob.glob(os.path.join(tmp, "flows-*.ipfix")))
        ck.info("%d files; sizes %d..%d bytes" % (len(files), min(map(os.path.getsize, files)),
                                                  max(map(os.path.getsize, files))))
        ck.check("rotation made many files (%d)" % len(files), len(files) >= 10)
        ck.check("files within the size bound (256 KiB)",
                 all(os.path.getsize(f) <= 256 << 10 for f in files))
        named = [f for f in files if f.count(".") > 1]
        ck.check("names in the same second get a number (%d such)" % len(named), bool(named))
        total, ids, bad = 0, set(), []
        for f in files:
            ok, n, e = seen[f] if f in seen else dump_ok(ipfixdump, f)
            flows, _, s = W.read_stream(f)
            if not ok or n != len(flows) or s.truncated or s.sequence_errors:
                bad.append("%s: ipfixDump ok %s, %d vs %d records, %d bytes cut, %d sequence "
                           "errors %s" % (os.path.basename(f), ok, n, len(flows), s.truncated,
                                          s.sequence_errors, e.strip()[:100]))
            total += len(flows)
            ids.update(W.uint(r[W.FLOW_ID]) for r in flows)
        ck.check("every file complete: ipfixDump reads it without error, whole messages, "
                 "sequence numbers from 0", not bad, "; ".join(bad[:3]))
        ck.check("the files hold every record exactly once (%d)" % RECORDS,
                 total == RECORDS and len(ids) == RECORDS, "%d records, %d distinct" %
                 (total, len(ids)))
        # the CLI's --write: complete under its name, no .tmp
        pcaps, _ = T.generate(tmp)
        out_file = os.path.join(tmp, "cli.ipfix")
        r = T.run([T.daemon_path(), "--read", pcaps[0], "--write", out_file] +
                  T.daemon_args("default"))
        ok, n, e = dump_ok(ipfixdump, out_file) if os.path.exists(out_file) else (False, 0, "")
        ck.check("--write: exit 0, file complete, no .tmp", r.returncode == 0 and ok and n > 0
                 and not os.path.exists(out_file + ".tmp"), T.tail(r.stderr) + e)
        check_streams(ck, ipfixdump, tmp, pcaps[0], n)
    ck.finish()


def check_streams(ck, ipfixdump, tmp, pcap, flows):
    """--write to a character device and to a FIFO: written in place, never replaced."""
    args = T.daemon_args("default")
    null = os.path.join(tmp, "null")
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    r = T.run([T.daemon_path(), "--read", pcap, "--write", null] + args)
    ck.check("--write to a character device: exit 0, still that device, no .tmp",
             r.returncode == 0 and stat.S_ISCHR(os.stat(null).st_mode) and
             os.stat(null).st_rdev == os.makedev(1, 3) and not os.path.exists(null + ".tmp"),
             T.tail(r.stderr))
    fifo, copy = os.path.join(tmp, "fifo"), os.path.join(tmp, "from-fifo.ipfix")
    os.mkfifo(fifo)

    def drain():
        with open(fifo, "rb") as src, open(copy, "wb") as dst:
            dst.write(src.read())
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    r = T.run([T.daemon_path(), "--read", pcap, "--write", fifo] + args)
    reader.join(30)
    ok, n, e = dump_ok(ipfixdump, copy) if os.path.exists(copy) else (False, 0, "")
    ck.check("--write to a FIFO: exit 0, still a FIFO, no .tmp, the reader got all %d flows "
             "(ipfixDump: %d)" % (flows, n), r.returncode == 0 and ok and n == flows and
             stat.S_ISFIFO(os.stat(fifo).st_mode) and not os.path.exists(fifo + ".tmp"),
             T.tail(r.stderr) + e)


if __name__ == "__main__":
    main()
