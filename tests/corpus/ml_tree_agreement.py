#!/usr/bin/python3
"""ml_tree agreement: the ml_tree plugin predicts what scikit-learn's predict_proba predicts.

usage: ml_tree_agreement.py NFSENSORD SHARED_DIR SOURCE_DIR

1. Retrains the shipped model as tools/train_model.py does (features from nfsensord's own CSV,
   labels from NFStream's reference) and checks that its export is byte for byte
   conf/models/app_protocol.yaml: the shipped file is this scikit-learn model.
2. Trains further models on the same training flows, one of each kind and link: a decision
   tree on 5 packets (classified at packet 6), gradient boosting with softmax (14 classes),
   with the logistic link (TLS or not) and with the exponential loss (DNS or not).
3. For each model, runs nfsensord with splt and ml_tree over every capture held aside from
   training (the shared captures not in the model's meta.trained_on; for the shipped model the
   corpus captures too), computes each flow's features from the CSV (tools/ml_features.py),
   and checks, flow by flow, that udps.ml_label is predict_proba's argmax class and
   udps.ml_probability its probability within 1e-9, and udps.ml_packets the packets seen.
4. expire_early: every flow that reached at_packet ends there, with expiration_id -1 in CSV
   and flowEndReason 0x80 in IPFIX (python3-ipfix), its prediction still agreeing.
Prints "ml_tree agreement: <model>: matched/flows" per model. Exit 77 when the shared
captures or scikit-learn are absent.
"""
import concurrent.futures
import os
import sys
import tempfile

TOLERANCE = 1e-9
BATCH = 16  # captures per nfsensord run
SKIP = 77


class Report:
    def __init__(self):
        self.failures = 0

    def check(self, label, ok, detail=""):
        print("%s  %s%s" % ("PASS" if ok else "FAIL", label, (": " + detail) if detail and not ok
                            else ""))
        sys.stdout.flush()
        self.failures += not ok
        return ok


def config_lines(model_path, at_packet, expire_early, splt_packets):
    plugins = ["{name: ml_tree, model: %s, at_packet: %d, expire_early: %s}"
               % (model_path, at_packet, "true" if expire_early else "false")]
    if splt_packets:
        plugins.insert(0, "{name: splt, packets: %d}" % splt_packets)
    return plugins


def run_nfsensord(tm, nfsensord, pcaps, plugins, work, extra_args=()):
    """(rc, rows, stderr) of one nfsensord run reading pcaps as one stream."""
    import subprocess

    os.makedirs(work, exist_ok=True)
    conf = os.path.join(work, "nfsensor.yaml")
    with open(conf, "w") as fp:
        fp.write("profile: nfstream\ndpi: {enabled: false}\nplugins:\n")
        fp.writelines("  - %s\n" % p for p in plugins)
    out = os.path.join(work, "flows.csv")
    cmd = [nfsensord, "--config", conf, "--csv", out] + list(extra_args)
    for p in pcaps:
        cmd += ["--read", p]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900)
    rows = tm.read_csv(out) if os.path.exists(out) else None
    return r.returncode, rows, r.stderr.decode(errors="replace")[-400:]


def run_batched(tm, nfsensord, captures, plugins, out_dir, extra_args=lambda work: ()):
    """
    Runs nfsensord over the captures in batches of BATCH (several --read files are one stream,
    so a batch is one run); a batch that does not exit 0 (a damaged capture stops the stream)
    is run again one capture at a time, where exit 1 still yields the capture's flows.
    Returns [(work_dir, rows)], errors.
    """
    batches = [captures[i:i + BATCH] for i in range(0, len(captures), BATCH)]
    results, errors = [], []

    def one(pcaps, work, single):
        rc, rows, err = run_nfsensord(tm, nfsensord, pcaps, plugins, work, extra_args(work))
        if rc == 0 or (single and rc == 1 and rows is not None):
            return [(work, rows)], []
        if single:
            return [], ["%s: exit %d: %s" % (os.path.basename(pcaps[0]), rc, err)]
        got, bad = [], []
        for i, p in enumerate(pcaps):
            g, b = one([p], "%s.%d" % (work, i), True)
            got, bad = got + g, bad + b
        return got, bad

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        jobs = [pool.submit(one, b, os.path.join(out_dir, "batch%d" % i), False)
                for i, b in enumerate(batches)]
        for job in jobs:
            got, bad = job.result()
            results += got
            errors += bad
    return results, errors


def agreement(np, mf, model, names, rows, at_packet):
    """(matched, flows, worst |dp|, first disagreement) of rows against model.predict_proba."""
    if not rows:
        return 0, 0, 0.0, None
    X = np.array([mf.vector(r, names) for r in rows], dtype=np.float64)
    proba = model.predict_proba(X)
    classes = [str(c) for c in model.classes_]
    matched, worst, first_bad = 0, 0.0, None
    for r, p in zip(rows, proba):
        best = int(np.argmax(p))
        got_label = r["udps.ml_label"]
        got_p = float(r["udps.ml_probability"])
        dp = abs(got_p - p[best])
        worst = max(worst, dp)
        same_label = got_label == classes[best] or (
            got_label in classes and abs(p[classes.index(got_label)] - p[best]) <= TOLERANCE)
        packets = min(at_packet, int(r["bidirectional_packets"]))
        if same_label and dp <= TOLERANCE and int(r["udps.ml_packets"]) == packets:
            matched += 1
        elif first_bad is None:
            first_bad = "%s:%s -> %s:%s got %s %.17g (%s packets), want %s %.17g" % (
                r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], got_label, got_p,
                r["udps.ml_packets"], classes[best], p[best])
    return matched, len(rows), worst, first_bad


def check_model(rep, ctx, label, model, names, model_path, at_packet, captures,
                expire_early=False):
    """Runs nfsensord with ml_tree over the captures and compares every flow."""
    np, mf, tm = ctx["np"], ctx["mf"], ctx["tm"]
    splt = max(int(n.rpartition("_")[2]) for n in names if n[-1].isdigit()) \
        if any(n[-1].isdigit() for n in names) else 1
    plugins = config_lines(model_path, at_packet, expire_early, splt)
    total = matched = 0
    worst = 0.0
    bad, all_rows = [], []
    with tempfile.TemporaryDirectory() as out:
        results, errors = run_batched(tm, ctx["nfsensord"], captures, plugins, out)
    for _, rows in results:
        m, n, w, first_bad = agreement(np, mf, model, names, rows, at_packet)
        matched, total, worst = matched + m, total + n, max(worst, w)
        if first_bad:
            bad.append(first_bad)
        all_rows += rows
    print("ml_tree agreement: %s: %d/%d flows over %d captures in %d runs (max |dp| %.3g)"
          % (label, matched, total, len(captures), len(results), worst))
    rep.check("%s: nfsensord ran on every capture" % label, not errors, "; ".join(errors[:3]))
    rep.check("%s: every flow's label and probability agree with predict_proba" % label,
              total > 0 and matched == total, "; ".join(bad[:3]))
    return all_rows


def check_expire_early(rep, ctx, model, names, model_path, captures):
    """expire_early: flows end at at_packet by the plugin, in CSV and in IPFIX."""
    rows = check_model(rep, ctx, "shipped model, expire_early", model, names, model_path, 3,
                       captures, expire_early=True)
    at = [r for r in rows if int(r["bidirectional_packets"]) == 3]
    rep.check("expire_early: no flow has more than at_packet (3) packets",
              all(int(r["bidirectional_packets"]) <= 3 for r in rows))
    rep.check("expire_early: every flow of 3 packets has expiration_id -1 (%d flows)" % len(at),
              len(at) > 0 and all(r["expiration_id"] == "-1" for r in at))
    rep.check("expire_early: shorter flows end otherwise (expiration_id 0)",
              all(r["expiration_id"] == "0" for r in rows if int(r["bidirectional_packets"]) < 3))
    check_ipfix_end_reason(rep, ctx, model_path, captures)


def check_ipfix_end_reason(rep, ctx, model_path, captures):
    try:
        import ipfix.ie
        import ipfix.reader
    except ImportError:
        print("python3-ipfix not installed: the IPFIX half of the expire_early check is skipped")
        return
    ipfix.ie.use_iana_default()
    ipfix.ie.use_5103_default()
    for spec in ("mlLabel(32473/1400)<string>[65535]", "mlProbability(32473/1401)<float64>[8]",
                 "mlPackets(32473/1402)<unsigned8>[1]"):
        ipfix.ie.for_spec(spec)
    plugins = config_lines(model_path, 3, True, 0)
    records, bad, unreadable = 0, [], []
    with tempfile.TemporaryDirectory() as out:
        results, errors = run_batched(ctx["tm"], ctx["nfsensord"], captures, plugins, out,
                                      lambda work: ["--write", os.path.join(work, "f.ipfix")])
        bad += errors
        for work, _ in results:
            try:
                with open(os.path.join(work, "f.ipfix"), "rb") as fp:
                    recs = [r for r in ipfix.reader.from_stream(fp).namedict_iterator()
                            if "flowEndReason" in r]  # not the RFC 5610 type records
            except ValueError as e:  # python3-ipfix: a timestamp beyond datetime's years
                unreadable.append("%s (%s)" % (os.path.basename(work), e))
                continue
            for rec in recs:
                packets = rec.get("packetDeltaCount", 0) + rec.get("reversePacketDeltaCount", 0)
                records += 1
                if (packets == 3 and rec["flowEndReason"] != 0x80) or packets > 3 or \
                        not rec.get("mlLabel"):
                    bad.append("%s: %d packets, flowEndReason %s, mlLabel %r" % (
                        os.path.basename(work), packets, rec["flowEndReason"],
                        rec.get("mlLabel")))
    if unreadable:
        print("python3-ipfix cannot decode %d run(s): %s" % (len(unreadable),
                                                           "; ".join(unreadable[:3])))
    rep.check("expire_early in IPFIX: flows of 3 packets have flowEndReason 0x80, every record "
              "an mlLabel (%d records)" % records, records > 1000 and not bad, "; ".join(bad[:3]))


def main():
    nfsensord, shared, source = (os.path.abspath(a) for a in sys.argv[1:4])
    pcaps = os.path.join(shared, "pcaps")
    if not os.path.isdir(os.path.join(shared, "nfstream-reference", "mode0")):
        print("skip: no shared captures in", shared)
        return SKIP
    try:
        import numpy as np
        import sklearn  # noqa: F401
        import yaml
    except ImportError as e:
        print("skip: %s (apt-get install python3-sklearn python3-yaml)" % e)
        return SKIP
    sys.path.insert(0, os.path.join(source, "tools"))
    import export_model as em
    import ml_features as mf
    import train_model as tm

    rep = Report()
    ctx = {"np": np, "mf": mf, "tm": tm, "nfsensord": nfsensord}
    shipped_path = os.path.join(source, "conf", "models", "app_protocol.yaml")
    with open(shipped_path) as fp:
        shipped_text = fp.read()
    meta = yaml.safe_load(shipped_text)["meta"]

    cache = {}  # nfsensord's CSV of each training capture, for both trainings
    t = tm.train(shared, nfsensord, source="nfsensord", log=lambda s: print("train: " + s),
                 cache=cache)
    retrained = em.dumps(em.model_dict(t.model, t.features), t.meta)
    rep.check("the shipped model is tools/train_model.py's scikit-learn model, byte for byte",
              retrained == shipped_text)

    trained_on = set(meta["trained_on"])
    nfstream = sorted(os.path.join(pcaps, "nfstream", n)
                      for n in os.listdir(os.path.join(pcaps, "nfstream"))
                      if n not in trained_on and n.endswith((".pcap", ".pcapng")))
    corpus = sorted(os.path.join(pcaps, "corpus", n)
                    for n in os.listdir(os.path.join(pcaps, "corpus"))
                    if n.endswith((".pcap", ".pcapng")))
    print("held aside: %d NFStream test captures (%d with a reference), %d corpus captures"
          % (len(nfstream), len(t.test_captures), len(corpus)))
    print("shipped model: held-aside accuracy against NFStream's nDPI labels %.3f (%d flows)"
          % (t.accuracy, len(t.yt)))

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "shipped.yaml")
        with open(path, "w") as fp:
            fp.write(retrained)
        check_model(rep, ctx, "shipped random forest", t.model, t.features, path, 3,
                    nfstream + corpus)

        from sklearn.ensemble import GradientBoostingClassifier
        from sklearn.tree import DecisionTreeClassifier
        t5 = tm.train(shared, nfsensord, "decision_tree", packets=5, source="nfsensord",
                      log=lambda s: None, cache=cache)
        y = np.array(t.y)
        others = [
            ("decision tree, 5 packets, at_packet 6", t5.model, t5.features, 6),
            ("gradient boosting, softmax", GradientBoostingClassifier(
                n_estimators=8, max_depth=3, random_state=0).fit(t.X, y), t.features, 3),
            ("gradient boosting, logistic (TLS?)", GradientBoostingClassifier(
                n_estimators=10, max_depth=3, random_state=0).fit(
                    t.X, np.where(y == "TLS", "TLS", "not TLS")), t.features, 3),
            ("gradient boosting, exponential (DNS?)", GradientBoostingClassifier(
                loss="exponential", n_estimators=10, max_depth=2, random_state=0).fit(
                    t.X, np.where(y == "DNS", "DNS", "not DNS")), t.features, 3),
            ("gradient boosting, init zero", GradientBoostingClassifier(
                init="zero", n_estimators=5, max_depth=2, random_state=0).fit(t.X, y),
             t.features, 3),
        ]
        assert isinstance(t5.model, DecisionTreeClassifier)
        for i, (label, model, names, at_packet) in enumerate(others):
            path = os.path.join(tmp, "model%d.yaml" % i)
            em.export(model, names, path, samples=t.X if len(names) == len(t.features) else None)
            check_model(rep, ctx, label, model, names, path, at_packet, nfstream)

        check_expire_early(rep, ctx, t.model, t.features, os.path.join(tmp, "shipped.yaml"),
                           nfstream)
    print("ml_tree agreement: %d check(s) failed" % rep.failures if rep.failures
          else "ml_tree agreement: all checks passed")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
