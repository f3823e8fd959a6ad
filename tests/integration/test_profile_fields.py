#!/usr/bin/python3
"""
test_profile_fields.py NFSENSORD [SOURCE_DIR]

`counters`, `fields` and `lists` per collector, decoded by libfixbuf's ipfixDump. One nfsensord
run (dpi and splt enabled) on pcapgen's capture and a real one when present, with five RFC 5655
file collectors and the CSV:
  default   the reference: every group, basicLists, Delta counters
  total     counters: total: flow records carry octetTotalCount/packetTotalCount (85/86) and
            their reverse forms with the default's Delta values, flow by flow (flowId), and no
            Delta counter; packets equal the CSV's per direction
  iana      fields: iana-only: no enterprise element; the same IANA and RFC 5103 elements as
            the default's
  core      fields: core: only elements of --list-fields' core group
  flat      fields: core, splt and lists: flat: core and splt elements only, splt as
            spltPacketSize1..N (no basicList) whose values equal the CSV's splt_ps, while the
            default collector of the same run has the basicList with the same values
Errors of the keys are in tests/config (30s).
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402
import profiles_util as U  # noqa: E402

FLD = re.compile(r"^\s+\((\d+)(?:/(\d+))?\)\s*(?:\(S\)\s*)?(\S+) : (.*)$")
ITEM_IE = re.compile(r"ie: \((\d+)/(\d+)\) (\S+)")
ITEM = re.compile(r"^\s+(\d+)\s+: (-?\d+)$")
COLLECTORS = (("default", ""), ("total", "    counters: total\n"),
              ("iana", "    fields: iana-only\n"), ("core", "    fields: core\n"),
              ("flat", "    fields: core, splt\n    lists: flat\n"))


def flow_records(path):
    """ipfixDump's flow records (templates 257/258): {name: value}, (pen, id) per name, and
    basicLists as {item name: [values]}."""
    d = T.run([T.need_tool("ipfixDump"), "--rfc5610", "-i", path], timeout=120)
    out, cur, lst = [], None, None
    for line in d.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("--- data record"):
            cur, lst = None, None
        elif "tid:" in line and line.strip().startswith("count:"):
            tid = int(re.search(r"tid:\s+(\d+)", line).group(1))
            if tid in (257, 258):
                cur = {"_ids": {}, "_lists": {}}
                out.append(cur)
        elif cur is not None and ITEM_IE.search(line):
            lst = cur["_lists"].setdefault(ITEM_IE.search(line).group(3), [])
        elif cur is not None and lst is not None and ITEM.match(line):
            lst.append(int(ITEM.match(line).group(2)))
        elif cur is not None and FLD.match(line):
            m = FLD.match(line)
            pen, iid = (int(m.group(1)), int(m.group(2))) if m.group(2) else (0, int(m.group(1)))
            cur[m.group(3)] = m.group(4).strip()
            cur["_ids"][m.group(3)] = (pen, iid)
            lst = None
    return out


def list_fields(daemon):
    """--list-fields with splt: group -> IPFIX names."""
    r = T.run([daemon, "--list-fields", "--plugin", "splt"])
    groups, g = {}, None
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("## "):
            g = line.split()[-1]
        elif g and line.startswith("| ") and not line.startswith("| IPFIX") and "---" not in line:
            cols = [c.strip() for c in line.strip("|").split("|")]
            if cols[1] != "-":
                groups.setdefault(g, set()).add(cols[0])
    return groups


def names(recs):
    return {n for r in recs for n in r if not n.startswith("_")} | \
        {n for r in recs for n in r["_lists"]}


def by_id(recs):
    return {int(r["flowId"]): r for r in recs if "flowId" in r}


def check_run(ck, daemon, tmp, name, pcap, groups):
    yaml = "plugins:\n  - splt\ncollectors:\n" + "".join(
        "  - file: %s\n%s" % (os.path.join(tmp, "%s-%s.ipfix" % (name, c)), extra)
        for c, extra in COLLECTORS)
    csv_path = U.run_daemon(ck, daemon, tmp, name, pcap, yaml)
    rows = {int(r["id"]): r for r in U.csv_flows(csv_path)}
    recs = {c: flow_records(os.path.join(tmp, "%s-%s.ipfix" % (name, c))) for c, _ in COLLECTORS}
    for c, r in recs.items():
        ck.check("%s/%s: ipfixDump reads %d flow records (CSV: %d)" % (name, c, len(r), len(rows)),
                 len(r) == len(rows) and rows)
    ref = by_id(recs["default"])
    # counters: total
    tot = by_id(recs["total"])
    pairs = (("octetTotalCount", "octetDeltaCount"), ("packetTotalCount", "packetDeltaCount"),
             ("reverseOctetTotalCount", "reverseOctetDeltaCount"),
             ("reversePacketTotalCount", "reversePacketDeltaCount"))
    bad = [(i, t, d) for i, r in tot.items() for t, d in pairs if r.get(t) != ref[i].get(d)]
    ids = {r["_ids"].get(n) for r in recs["total"] for n in ("octetTotalCount", "packetTotalCount",
                                                            "reverseOctetTotalCount")}
    ck.check("%s/total: 85/86 (and 29305/85/86) carry the Delta values, flow by flow" % name,
             not bad and ids == {(0, 85), (0, 86), (29305, 85)}, "%s %s" % (bad[:3], ids))
    ck.check("%s/total: no Delta counter in flow records" % name,
             not any(n in names(recs["total"]) for _, n in pairs))
    pk = [i for i, r in tot.items() if int(r["packetTotalCount"]) != int(rows[i]["src2dst_packets"])
          or int(r["reversePacketTotalCount"]) != int(rows[i]["dst2src_packets"])]
    ck.check("%s/total: packets per direction equal the CSV's" % name, not pk, str(pk[:3]))
    # fields: iana-only
    own = [n for r in recs["iana"] for n, (pen, _) in r["_ids"].items() if pen not in (0, 29305)]
    # a basicList (291) of enterprise items (splt's) is an enterprise field: it goes too
    std = {n for r in recs["default"] for n, (pen, _) in r["_ids"].items()
           if pen in (0, 29305) and n != "basicList"}
    ck.check("%s/iana: no enterprise element; the default's IANA and reverse ones all there "
             "(%d)" % (name, len(std)), not own and names(recs["iana"]) == std,
             "own %s; diff %s" % (sorted(set(own))[:5], sorted(names(recs["iana"]) ^ std)))
    # fields: core
    extra = names(recs["core"]) - groups["core"]
    ck.check("%s/core: only core elements (%d of %d)" % (name, len(names(recs["core"])),
                                                         len(groups["core"])),
             not extra and names(recs["core"]), str(sorted(extra)))
    # fields: core, splt; lists: flat
    flat = names(recs["flat"])
    ck.check("%s/flat: core and splt elements only, no dpi, no basicList" % name,
             flat <= groups["core"] | {n for n in flat if re.match(r"splt\w+\d+$", n)} and
             not flat & groups.get("dpi", set()) and "basicList" not in flat,
             str(sorted(flat - groups["core"])[:8]))
    fl = by_id(recs["flat"])
    wrong = []
    for i, row in rows.items():
        want = [int(x) for x in row["splt_ps"].strip("[]").split(",")]
        got_flat = [int(fl[i].get("spltPacketSize%d" % (k + 1), "x") or 0)
                    if ("spltPacketSize%d" % (k + 1)) in fl[i] else None for k in range(len(want))]
        got_list = ref[i]["_lists"].get("spltPacketSize")
        if got_flat != want or got_list != want:
            wrong.append((i, want, got_flat, got_list))
    ck.check("%s: splt_ps as spltPacketSize1..N (flat collector) and as a basicList (default "
             "collector) equal the CSV's, %d flows" % (name, len(rows)), not wrong, str(wrong[:2]))


def main():
    daemon = T.need_daemon()
    T.need_tool("ipfixDump")
    ck = T.Checker("test_profile_fields")
    groups = list_fields(daemon)
    ck.check("--list-fields names the core, dpi and splt groups",
             all(g in groups for g in ("core", "dpi", "splt")), str(sorted(groups)))
    with T.tempdir("profile-fields") as tmp:
        for tag, pcap in U.captures(tmp):
            check_run(ck, daemon, tmp, tag, pcap, groups)
    ck.finish()


if __name__ == "__main__":
    main()
