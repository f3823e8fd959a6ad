"""ml_features.py: the ml_tree plugin's features, computed from nfsensord's CSV.

plugins/ml_tree.c computes these values inside the sensor; this module computes the same values
from a flow's CSV row (the core columns and the splt plugin's lists), so that a model trained
here predicts in the sensor exactly as it did in scikit-learn. docs/plugins.md defines them:

    protocol, ip_version, src_port, dst_port    the flow's (src = sender of its first packet)
    direction_K   direction of packet K, 0 src->dst, 1 dst->src      (splt_direction[K-1])
    ps_K          size of packet K by the accounting mode            (splt_ps[K-1])
    piat_ms_K     ms since the flow's previous packet, 0 for K = 1   (splt_piat_ms[K-1])

K runs from 1 to 16; a flow with fewer than K packets has -1 there, as splt pads. NFStream's
own CSV (the shared reference output) has the same columns, so it serves as well.
"""

MAX_PACKETS = 16
FLOW_FEATURES = ("protocol", "ip_version", "src_port", "dst_port")
PACKET_FEATURES = (("direction", "splt_direction"), ("ps", "splt_ps"),
                   ("piat_ms", "splt_piat_ms"))


def feature_names(packets):
    """The full feature list for the first `packets` packets, in the shipped models' order."""
    if not 1 <= packets <= MAX_PACKETS:
        raise ValueError("packets must be 1..%d" % MAX_PACKETS)
    names = list(FLOW_FEATURES)
    for k in range(1, packets + 1):
        names += ["%s_%d" % (name, k) for name, _ in PACKET_FEATURES]
    return names


def parse_list(text):
    """A splt list as the CSV writes it: "[0, 1, -1]" (NFStream's form)."""
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError("not a list: %r" % text)
    inner = text[1:-1].strip()
    return [int(v) for v in inner.split(",")] if inner else []


def _packet_value(row, column, k):
    if column in row and row[column] != "":
        values = parse_list(row[column])
        if len(values) < k:
            raise ValueError("%s has %d positions; the model needs %d (run splt with more "
                             "packets)" % (column, len(values), k))
        return values[k - 1]
    flat = "%s_%d" % (column, k)  # splt's flat encoding: one column per position
    if flat in row:
        return int(row[flat])
    raise KeyError("no column %s (enable the splt plugin)" % column)


def feature_value(row, name):
    """Feature `name` of one CSV row (a dict of column -> text)."""
    if name in FLOW_FEATURES:
        return int(row[name])
    base, _, k = name.rpartition("_")
    for feature, column in PACKET_FEATURES:
        if base == feature and k.isdigit() and 1 <= int(k) <= MAX_PACKETS:
            return _packet_value(row, column, int(k))
    raise KeyError("unknown feature %r" % name)


def vector(row, names):
    """The feature vector of a CSV row, as a list of ints in the order of names."""
    return [feature_value(row, name) for name in names]
