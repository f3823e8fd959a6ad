#!/usr/bin/python3
"""ml_demo.py: the ml_tree plugin's predictions on a capture, beside nDPI's answer.

    tools/ml_demo.py [NFSENSORD] [CAPTURE]

Runs nfsensord with the dpi plugin and ml_tree (the shipped model conf/models/app_protocol.yaml,
classifying each flow at its 3rd packet), and prints a table of flows: what the model predicted
from the first three packets, with its probability, and what nDPI found after up to 20. The
default capture is one the model never saw in training (../shared/pcaps/nfstream/android.pcap);
without the shared captures, pass any capture. tools/demo calls it.
"""
import csv
import os
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "conf", "models", "app_protocol.yaml")


def endpoint(r, side):
    ip = r[side + "_ip"]
    return ("[%s]:%s" if ":" in ip else "%s:%s") % (ip, r[side + "_port"])


def main():
    nfsensord = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "daemon",
                                                                    "nfsensord")
    capture = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        ROOT, "..", "shared", "pcaps", "nfstream", "android.pcap")
    if not os.path.exists(capture):
        print("ml_demo: no capture %s (give one as the second argument)" % capture)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "ml.yaml")
        with open(conf, "w") as fp:
            fp.write("dpi: {enabled: true}\nplugins:\n"
                     "  - {name: ml_tree, model: \"%s\", at_packet: 3}\n" % MODEL)
        out = os.path.join(tmp, "flows.csv")
        r = subprocess.run([nfsensord, "--config", conf, "--read", capture, "--csv", out],
                           stderr=subprocess.PIPE)
        if r.returncode not in (0, 1):
            print("ml_demo: nfsensord failed: %s" % r.stderr.decode(errors="replace"))
            return 1
        with open(out, newline="") as fp:
            rows = list(csv.DictReader(fp))
    classes = set(yaml.safe_load(open(MODEL))["classes"])
    print("%-50s %5s  %-24s %s" % ("flow", "pkts", "ml_tree at packet 3",
                                   "nDPI (up to 20 packets)"))
    agree = 0
    for i, r in enumerate(rows):
        ndpi = r.get("application_name", "?")
        master = ndpi.split(".")[0]
        agree += r["udps.ml_label"] == (master if master in classes else "Other")
        if i < 20:
            flow = "%s -> %s/%s" % (endpoint(r, "src"), endpoint(r, "dst"), r["protocol"])
            print("%-50s %5s  %-12s p=%.2f     %s" % (flow[:50], r["bidirectional_packets"],
                                                     r["udps.ml_label"],
                                                     float(r["udps.ml_probability"]), ndpi))
    if len(rows) > 20:
        print("... %d more flows" % (len(rows) - 20))
    print("ml_tree agrees with nDPI on %d of %d flows of %s, a capture held aside from training "
          "(\"Other\": a protocol the model has no class for)"
          % (agree, len(rows), os.path.basename(capture)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
