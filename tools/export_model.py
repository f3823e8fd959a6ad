#!/usr/bin/python3
"""export_model.py: a scikit-learn tree classifier as an nfsensor model file (YAML).

    tools/export_model.py MODEL.pickle OUT.yaml --features protocol,dst_port,ps_1,...

or, from Python, export(model, feature_names, "out.yaml"). Handles DecisionTreeClassifier,
RandomForestClassifier (and ExtraTreesClassifier) and GradientBoostingClassifier (log-loss or
exponential loss, init "zero" or the default prior). The file reproduces predict_proba: each
tree is written as parallel node lists (feature, threshold, left, right, value), feature -1
marking a leaf, and every number in Python's shortest round-trip form, so nfsensord reads back
the very doubles scikit-learn holds. docs/plugins.md describes the format; plugins/ml_model.c
reads it. Before writing, the model is re-evaluated from the exported data with the sensor's
rules (reference_predict_proba) on the given samples, or on random ones, and must agree.
"""

import argparse
import json
import pickle
import sys

import numpy as np

FORMAT_VERSION = 1


def _name(value):
    return json.dumps(str(value))  # a JSON string is a YAML double-quoted scalar


def _num(value):
    value = float(value)
    if not np.isfinite(value):
        raise ValueError("model holds a non-finite number: %r" % value)
    return repr(value)


def _classifier_leaves(tree):
    """Leaf probabilities exactly as DecisionTreeClassifier.predict_proba computes them."""
    proba = np.array(tree.value[:, 0, :], dtype=np.float64)
    normalizer = proba.sum(axis=1)[:, np.newaxis]
    normalizer[normalizer == 0.0] = 1.0
    proba /= normalizer
    return proba


def _tree(tree, leaf_values, output=None):
    """One tree as the model file's node lists: a dict of lists."""
    if tree.n_outputs != 1:
        raise ValueError("multi-output trees are not supported")
    leaf = tree.children_left == -1
    out = {
        "feature": [-1 if leaf[i] else int(tree.feature[i]) for i in range(tree.node_count)],
        "threshold": [0.0 if leaf[i] else float(tree.threshold[i])
                      for i in range(tree.node_count)],
        "left": [int(v) for v in tree.children_left],
        "right": [int(v) for v in tree.children_right],
        "value": [list(map(float, leaf_values[i])) if leaf[i] else []
                  for i in range(tree.node_count)],
    }
    if output is not None:
        out["output"] = output
    return out


def model_dict(model, feature_names):
    """The model file's content as plain Python data."""
    from sklearn.ensemble import (ExtraTreesClassifier, GradientBoostingClassifier,
                                  RandomForestClassifier)
    from sklearn.tree import DecisionTreeClassifier

    n_features = getattr(model, "n_features_in_", None)
    if n_features is not None and n_features != len(feature_names):
        raise ValueError("the model has %d features, %d names given"
                         % (n_features, len(feature_names)))
    d = {"nfsensor_model": FORMAT_VERSION, "features": list(feature_names),
         "classes": [str(c) for c in model.classes_]}
    if getattr(model, "n_outputs_", 1) != 1:
        raise ValueError("multi-output models are not supported")
    if isinstance(model, DecisionTreeClassifier):
        d["kind"] = "decision_tree"
        d["trees"] = [_tree(model.tree_, _classifier_leaves(model.tree_))]
    elif isinstance(model, (RandomForestClassifier, ExtraTreesClassifier)):
        d["kind"] = "random_forest"
        d["trees"] = [_tree(e.tree_, _classifier_leaves(e.tree_)) for e in model.estimators_]
    elif isinstance(model, GradientBoostingClassifier):
        d.update(_boosting(model))
    else:
        raise ValueError("unsupported model %s (decision tree, random forest, gradient "
                         "boosting classifiers)" % type(model).__name__)
    return d


def _boosting(model):
    from sklearn.dummy import DummyClassifier

    k = model.estimators_.shape[1]
    if model.loss == "exponential":
        link = "exponential"
    elif model.loss in ("log_loss", "deviance"):
        link = "softmax" if k > 1 else "logistic"
    else:
        raise ValueError("unsupported gradient boosting loss %r" % model.loss)
    if not (model.init_ == "zero" or (isinstance(model.init_, DummyClassifier)
                                      and model.init_.strategy == "prior")):
        raise ValueError("gradient boosting init must be 'zero' or the default prior: other "
                         "init estimators depend on the features")
    init = model._raw_predict_init(np.zeros((1, model.n_features_in_), dtype=np.float32))[0]
    trees = []
    for stage in model.estimators_:  # stage-major, as predict_stages adds them
        for output, est in enumerate(stage):
            trees.append(_tree(est.tree_, est.tree_.value[:, 0, :], output))
    return {"kind": "gradient_boosting", "learning_rate": float(model.learning_rate),
            "init": [float(v) for v in init], "link": link, "trees": trees}


def dumps(d, meta=None):
    """The model file's text. Lists are written on one line each, numbers in repr form."""
    lines = ["# nfsensor ml_tree model, written by tools/export_model.py; docs/plugins.md",
             "nfsensor_model: %d" % d["nfsensor_model"], "kind: %s" % d["kind"],
             "features: [%s]" % ", ".join(_name(f) for f in d["features"]),
             "classes: [%s]" % ", ".join(_name(c) for c in d["classes"])]
    if d["kind"] == "gradient_boosting":
        lines += ["learning_rate: %s" % _num(d["learning_rate"]),
                  "init: [%s]" % ", ".join(_num(v) for v in d["init"]),
                  "link: %s" % d["link"]]
    if meta:
        lines.append("meta:")
        for key, value in meta.items():
            lines.append("  %s: %s" % (key, json.dumps(value)))
    lines.append("trees:")
    for t in d["trees"]:
        first = "  - "
        if "output" in t:
            lines.append("  - output: %d" % t["output"])
            first = "    "
        lines.append(first + "feature: [%s]" % ", ".join(map(str, t["feature"])))
        lines.append("    threshold: [%s]" % ", ".join(_num(v) for v in t["threshold"]))
        lines.append("    left: [%s]" % ", ".join(map(str, t["left"])))
        lines.append("    right: [%s]" % ", ".join(map(str, t["right"])))
        lines.append("    value: [%s]" % ", ".join(
            "[%s]" % ", ".join(_num(v) for v in vals) for vals in t["value"]))
    return "\n".join(lines) + "\n"


def _leaf(tree, x):
    node = 0
    while tree["feature"][node] >= 0:
        f = tree["feature"][node]
        node = tree["left"][node] if x[f] <= tree["threshold"][node] else tree["right"][node]
    return tree["value"][node]


def reference_predict_proba(d, X):
    """predict_proba from the model file's data, by the rules plugins/ml_model.c follows."""
    X = np.asarray(X, dtype=np.float32).astype(np.float64)  # scikit-learn rounds to float32
    out = np.zeros((X.shape[0], len(d["classes"])))
    for i, x in enumerate(X):
        if d["kind"] != "gradient_boosting":
            for t in d["trees"]:
                out[i] += _leaf(t, x)
            if len(d["trees"]) > 1:
                out[i] /= len(d["trees"])
            continue
        raw = np.array(d["init"], dtype=np.float64)
        for t in d["trees"]:
            raw[t["output"]] += d["learning_rate"] * _leaf(t, x)[0]
        if d["link"] == "softmax":
            m = raw.max()
            lse = np.log(np.exp(raw - m).sum()) + m
            out[i] = np.exp(raw - lse)
        else:
            z = 2.0 * raw[0] if d["link"] == "exponential" else raw[0]
            out[i, 1] = 1.0 / (1.0 + np.exp(-z))
            out[i, 0] = 1.0 - out[i, 1]
    return out


def check(model, d, X, tolerance=1e-9):
    """Fails unless the exported data predicts as the model does on the samples X."""
    want = model.predict_proba(np.asarray(X, dtype=np.float64))
    got = reference_predict_proba(d, X)
    worst = float(np.max(np.abs(want - got))) if len(X) else 0.0
    if worst > tolerance:
        raise AssertionError("exported model differs from scikit-learn by %g" % worst)
    return worst


def export(model, feature_names, path, samples=None, meta=None):
    """Writes model to path (after checking it on samples, or on random vectors)."""
    d = model_dict(model, feature_names)
    if samples is None:
        rng = np.random.default_rng(0)
        samples = rng.integers(-1, 1500, size=(200, len(feature_names)))
    check(model, d, samples)
    text = dumps(d, meta)
    if path == "-":
        sys.stdout.write(text)
    else:
        with open(path, "w") as fp:
            fp.write(text)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a pickled scikit-learn classifier (pickle or joblib)")
    ap.add_argument("out", help="model file to write (- for stdout)")
    ap.add_argument("--features", help="comma-separated feature names, in the model's column "
                    "order (default: the model's feature_names_in_)")
    a = ap.parse_args()
    try:
        import joblib
        model = joblib.load(a.model)
    except ImportError:
        with open(a.model, "rb") as fp:
            model = pickle.load(fp)
    names = a.features.split(",") if a.features else list(getattr(model, "feature_names_in_", []))
    if not names:
        ap.error("--features is required: the model does not name its features")
    try:
        export(model, names, a.out)
    except (ValueError, AssertionError) as e:
        print("export_model: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
