#!/usr/bin/python3
"""Every capture of the shared corpus: nfsensord exits 0 (or 1 with a clean message naming the
file, for a corrupt one), prints no sanitizer report, and its IPFIX file decodes with ipfixDump
with as many data records as nfsensord's CSV has flows.

usage: corpus_decode.py NFSENSORD SHARED_DIR        (exit 77 = skip when the corpus is absent)
"""
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

SANITIZER = re.compile(r"runtime error|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer")


def captures(root):
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            if f.endswith((".pcap", ".pcapng")):
                yield os.path.join(dirpath, f)


def check(nfsensord, pcap, out):
    name = os.path.relpath(pcap, out[1])
    ipfix = os.path.join(out[0], name.replace("/", "_") + ".ipfix")
    csv = ipfix + ".csv"
    r = subprocess.run([nfsensord, "--read", pcap, "--write", ipfix, "--csv", csv],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    err = r.stderr.decode(errors="replace")
    if SANITIZER.search(err):
        return name, "sanitizer report: " + err[:2000]
    if r.returncode not in (0, 1):
        return name, "exit %d: %s" % (r.returncode, err.strip())
    if r.returncode == 1 and os.path.basename(pcap) not in err:
        return name, "exit 1 without naming the file: " + err.strip()
    flows = sum(1 for _ in open(csv)) - 1
    d = subprocess.run(["ipfixDump", "-i", ipfix], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    if d.returncode != 0:
        return name, "ipfixDump failed: " + d.stderr.decode(errors="replace")[:500]
    # Flow records, not the RFC 5610 type records that share the file: each has flowEndReason.
    blocks = re.split(r"^--- ", d.stdout.decode(errors="replace"), flags=re.M)
    records = sum(1 for b in blocks if b.startswith("data record") and "flowEndReason" in b)
    if records != flows:
        return name, "ipfixDump decoded %d records, the CSV has %d flows" % (records, flows)
    note = " (clean error: %s)" % err.strip().splitlines()[-1] if r.returncode == 1 else ""
    return name, "ok: %d flows%s" % (flows, note)


def main():
    nfsensord, shared = sys.argv[1:3]
    root = os.path.join(shared, "pcaps", "corpus")
    if not os.path.isdir(root):
        print("skip: no corpus at", root)
        return 77
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            jobs = [pool.submit(check, nfsensord, p, (tmp, root)) for p in captures(root)]
            for job in jobs:
                name, verdict = job.result()
                print("%-45s %s" % (name, verdict))
                failed += not verdict.startswith("ok")
    print("corpus: %d captures, %d failed" % (len(jobs), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
