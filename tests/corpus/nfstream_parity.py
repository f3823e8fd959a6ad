#!/usr/bin/python3
"""NFStream parity: nfsensord's CSV (--profile nfstream) against NFStream's own output.

usage: nfstream_parity.py NFSENSORD SHARED_DIR GROUP[,GROUP...] [MODE...]
For each capture with a reference in SHARED_DIR/nfstream-reference/mode0 (and modes123 for
accounting modes 1-3), runs nfsensord once (statistics and splt plugins on, DPI off: its
application names come from another nDPI version, see ndpi_agreement.py) and compares every
GROUP (core, stats, splt) with SHARED_DIR/tools/parity.py, which prints 'GROUP parity:
matched/expected' and fails below 100%. Exit 77 (skip) when the shared captures are absent.
"""
import concurrent.futures
import os
import subprocess
import sys
import tempfile


NFSTREAM_FEATURES = ["--plugin", "statistics", "--plugin", "splt", "--set", "dpi.enabled=false"]


def run_capture(nfsensord, pcap, out_csv, mode, extra):
    cmd = [nfsensord, "--profile", "nfstream", "--read", pcap, "--csv", out_csv,
           "--accounting-mode", str(mode)] + NFSTREAM_FEATURES + extra
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    return r.returncode, r.stderr.decode(errors="replace").strip()


def parity(shared, group, ref_dir, out_dir, names):
    cmd = ["/usr/bin/python3", os.path.join(shared, "tools", "parity.py"), group, ref_dir, out_dir]
    r = subprocess.run(cmd + names, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    print(r.stdout.decode(errors="replace").rstrip())
    return r.returncode


def main():
    nfsensord, shared, groups = sys.argv[1:4]
    modes = [int(m) for m in sys.argv[4:]] or [0, 1, 2, 3]
    extra = os.environ.get("NFS_PARITY_ARGS", "").split()
    ref_root = os.path.join(shared, "nfstream-reference")
    pcaps = os.path.join(shared, "pcaps", "nfstream")
    if not os.path.isdir(ref_root) or not os.path.isdir(pcaps):
        print("skip: no NFStream reference in", ref_root)
        return 77
    failed = 0
    for mode in modes:
        ref_dir = os.path.join(ref_root, "mode0" if mode == 0 else "modes123")
        suffix = ".csv" if mode == 0 else ".mode%d.csv" % mode
        names = sorted(n[:-len(suffix)] for n in os.listdir(ref_dir) if n.endswith(suffix))
        with tempfile.TemporaryDirectory() as out:
            jobs = {}
            with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
                for n in names:
                    out_csv = os.path.join(out, n + suffix)
                    jobs[n] = pool.submit(run_capture, nfsensord, os.path.join(pcaps, n), out_csv,
                                          mode, extra)
            for n, job in jobs.items():
                rc, err = job.result()
                if rc != 0:
                    print("%s: nfsensord exit %d: %s" % (n, rc, err))
            print("accounting mode %d:" % mode)
            # parity.py names outputs <name>.csv; the mode suffix is part of the name here.
            ref_names = [n + suffix[:-4] for n in names]
            for group in groups.split(","):
                failed |= parity(shared, group, ref_dir, out, ref_names) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
