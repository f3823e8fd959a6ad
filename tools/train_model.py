#!/usr/bin/python3
"""train_model.py: train the shipped ml_tree model on the shared captures.

    tools/train_model.py [--shared ../shared] [--nfsensord build/daemon/nfsensord]
                         [--kind random_forest] [--packets 3] [--out conf/models/app_protocol.yaml]

What it learns: a flow's application protocol (the master protocol of nDPI's application_name,
"TLS" of "TLS.Google"; protocols with fewer than --min-flows training flows become "Other") from
its first --packets packets, with the features of tools/ml_features.py (protocol, ip_version,
ports, and each packet's direction, size and gap).

Data: the captures of SHARED/pcaps/nfstream that have NFStream's reference output in
SHARED/nfstream-reference/mode0. A capture whose name has crc32 % 4 == 0 is held aside: never
trained on, used for the accuracy figure and by tests/corpus/ml_tree_agreement.py. Features come
from nfsensord's own CSV (--profile nfstream, the splt plugin), so training and the sensor see the
same values; labels come from the reference, matched by flow key (addresses, ports, protocol,
VLAN, tunnel, first_seen). With --features-from reference the reference's own splt columns are
used instead (same definition; for a build without the splt plugin).

The model file records in `meta` the captures it was trained on, the feature source and the
held-aside accuracy. Deterministic: the same inputs give the same file.
"""

import argparse
import collections
import concurrent.futures
import csv
import os
import subprocess
import sys
import tempfile
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_model  # noqa: E402
import ml_features  # noqa: E402

KEY = ("src_ip", "src_port", "dst_ip", "dst_port", "protocol", "vlan_id", "tunnel_id",
       "bidirectional_first_seen_ms")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

csv.field_size_limit(1 << 24)


def held_aside(capture):
    """The fixed split: about a quarter of the captures are never trained on."""
    return zlib.crc32(capture.encode()) % 4 == 0


def key(row):
    return tuple(row[k] for k in KEY)


def read_csv(path):
    with open(path, newline="") as fp:
        return list(csv.DictReader(fp))


def label_of(application_name):
    return application_name.split(".")[0] or "Unknown"


def nfsensord_csv(nfsensord, pcap, out, plugins, tmp):
    """Runs nfsensord (NFStream profile) over pcap with these plugins (YAML flow mappings);
    returns its CSV rows. The dpi plugin is off: training needs no application detection."""
    conf = os.path.join(tmp, "nfsensor.yaml")
    with open(conf, "w") as fp:
        fp.write("profile: nfstream\ndpi: {enabled: false}\nplugins:\n")
        fp.writelines("  - %s\n" % p for p in plugins)
    cmd = [nfsensord, "--config", conf, "--read", pcap, "--csv", out]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    if r.returncode not in (0, 1):  # 1: a truncated capture; its flows are still written
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode,
                                                 r.stderr.decode(errors="replace").strip()))
    return read_csv(out)


def nfsensord_rows(nfsensord, pcap, packets, tmp):
    """nfsensord's flows of pcap with the splt lists the features need."""
    out = os.path.join(tmp, os.path.basename(pcap) + ".csv")
    return nfsensord_csv(nfsensord, pcap, out, ["{name: splt, packets: %d}" % packets], tmp)


def dataset(shared, captures, source, nfsensord, packets, cache=None):
    """
    (X, labels, unmatched) over the captures; labels from the reference by flow key. cache, a
    dict, keeps nfsensord's rows per capture for later calls (splt of MAX_PACKETS serves any
    packet count).
    """
    names = ml_features.feature_names(packets)
    splt = packets if cache is None else ml_features.MAX_PACKETS
    cache = {} if cache is None else cache
    if source != "reference":
        with tempfile.TemporaryDirectory() as tmp:
            def run(cap):
                work = os.path.join(tmp, cap + ".d")
                os.makedirs(work)
                return nfsensord_rows(nfsensord, os.path.join(shared, "pcaps", "nfstream", cap),
                                      splt, work)
            todo = [c for c in captures if c not in cache]
            with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
                for cap, rows in zip(todo, pool.map(run, todo)):
                    cache[cap] = rows
    X, y, unmatched = [], [], 0
    for cap in captures:
        ref = read_csv(os.path.join(shared, "nfstream-reference", "mode0", cap + ".csv"))
        rows = ref if source == "reference" else cache[cap]
        labels = {key(r): label_of(r["application_name"]) for r in ref}
        for r in sorted(rows, key=key):  # emission order differs between sources
            if key(r) not in labels:
                unmatched += 1
                continue
            X.append(ml_features.vector(r, names))
            y.append(labels[key(r)])
    return np.array(X, dtype=np.int64).reshape(-1, len(names)), y, unmatched


def make_model(kind, seed):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    if kind == "random_forest":
        return RandomForestClassifier(n_estimators=10, max_depth=8, min_samples_leaf=3,
                                      random_state=seed)
    if kind == "gradient_boosting":
        return GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=seed)
    return DecisionTreeClassifier(max_depth=10, min_samples_leaf=2, random_state=seed)


def splt_available(nfsensord):
    """True when this nfsensord takes a configuration with the splt plugin."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            nfsensord_csv(nfsensord, "/dev/null", os.path.join(tmp, "x.csv"),
                          ["{name: splt, packets: 3}"], tmp)
        except (RuntimeError, OSError):
            return False
    return True


class Trained:
    """What train() made: the model, its features, data and the meta block of its file."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def captures_with_reference(shared):
    ref_dir = os.path.join(shared, "nfstream-reference", "mode0")
    return sorted(n[:-4] for n in os.listdir(ref_dir) if n.endswith(".csv"))


def train(shared, nfsensord, kind="random_forest", packets=3, min_flows=20, seed=0,
          source="auto", log=print, cache=None):
    """Trains as the shipped model was trained; returns a Trained. cache: see dataset()."""
    captures = captures_with_reference(shared)
    train_caps = [c for c in captures if not held_aside(c)]
    test_caps = [c for c in captures if held_aside(c)]
    if source == "auto":
        source = "nfsensord" if splt_available(nfsensord) else "reference"
    log("features from %s; %d captures for training, %d held aside"
        % (source, len(train_caps), len(test_caps)))

    X, y, miss = dataset(shared, train_caps, source, nfsensord, packets, cache)
    counts = collections.Counter(y)
    classes = {c for c, n in counts.items() if n >= min_flows}
    y = [c if c in classes else "Other" for c in y]
    model = make_model(kind, seed).fit(X, y)

    Xt, yt, miss_t = dataset(shared, test_caps, source, nfsensord, packets, cache)
    yt = [c if c in classes else "Other" for c in yt]
    accuracy = float(np.mean(model.predict(Xt) == np.array(yt))) if len(yt) else 0.0
    log("trained on %d flows (%d unmatched), %d classes; held aside: %d flows (%d unmatched), "
        "accuracy %.3f" % (len(y), miss, len(model.classes_), len(yt), miss_t, accuracy))
    meta = {
        "what": "application protocol (nDPI master protocol) from the first %d packets"
                % packets,
        "trained_by": "tools/train_model.py --kind %s --packets %d --min-flows %d --seed %d"
                      % (kind, packets, min_flows, seed),
        "features_from": source,
        "held_aside_rule": "crc32(capture name) % 4 == 0",
        "held_aside_accuracy": round(accuracy, 4),
        "held_aside_flows": len(yt),
        "trained_on": train_caps,
    }
    return Trained(model=model, features=ml_features.feature_names(packets), X=X, y=y, Xt=Xt,
                   yt=yt, accuracy=accuracy, meta=meta, train_captures=train_caps,
                   test_captures=test_caps)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--nfsensord", default=os.path.join(ROOT, "build", "daemon", "nfsensord"))
    ap.add_argument("--kind", default="random_forest",
                    choices=["random_forest", "gradient_boosting", "decision_tree"])
    ap.add_argument("--packets", type=int, default=3, help="packets the model looks at [3]")
    ap.add_argument("--min-flows", type=int, default=20,
                    help="training flows a protocol needs to be a class of its own [20]")
    ap.add_argument("--features-from", choices=["nfsensord", "reference", "auto"],
                    default="auto")
    ap.add_argument("--out", default=os.path.join(ROOT, "conf", "models", "app_protocol.yaml"))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    t = train(a.shared, a.nfsensord, a.kind, a.packets, a.min_flows, a.seed, a.features_from)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    export_model.export(t.model, t.features, a.out, samples=t.X, meta=t.meta)
    print("wrote %s (%d bytes)" % (a.out, os.path.getsize(a.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
