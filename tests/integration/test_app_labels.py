#!/usr/bin/python3
"""Labels that survive: the application table options records (lib/ipfix_apps.c).

One nfsensord run per capture (the generated skeleton, and a corpus capture with many
applications when ../shared/pcaps is there) writes an RFC 5655 file, a UDP collector and the
CSV. Checked, with python3-ipfix decoding the file and the datagrams and ipfixDump the file:
  - the engine record names nDPI and the version ndpiReader (the same libndpi) reports;
  - the protocol records (template 0xFF20, scope applicationId = engine 20, the PEN, the id;
    the engine's own record has template 0xFF21)
    name every id as ndpiReader -a 0 lists it, and the UDP collector gets the same table;
  - every dpiMasterProtocolId / dpiAppProtocolId in the data records has a record, and IANA
    applicationName (96) in each data record is built from those names as nDPI builds it
    ("Master.App", or "App") and equals the CSV's application_name of the same flow.

usage: test_app_labels.py NFSENSORD [SOURCE_DIR]
"""
import csv
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402

TID_APPS = 0xFF20
ENGINE_PANA_L7_PEN = 20
CORPUS_CAPTURE = "1kxun.pcap"  # 197 flows, 17 applications, Master.App pairs included


def ipfix_model():
    import ipfix.ie
    T.ipfix_model()
    for spec in ("dpiMasterProtocolId(32473/1200)<unsigned16>[2]",
                 "dpiAppProtocolId(32473/1201)<unsigned16>[2]"):
        ipfix.ie.for_spec(spec)


def ndpi_reference():
    """(version, {id: name}) from ndpiReader, built on the same libndpi."""
    r = T.run(["ndpiReader", "-a", "0"])
    text = (r.stdout + r.stderr).decode(errors="replace")
    names = {int(i): n for i, n in re.findall(r'<Option\d+ value="(\d+)">([^<]*)<', text)}
    h = T.run(["ndpiReader", "-h"])
    m = re.search(r"Welcome to nDPI (\S+)", (h.stdout + h.stderr).decode(errors="replace"))
    return (m.group(1) if m else None), names


def table_of(records, pen):
    """Engine record and {id: name} from the 0xFF21 / 0xFF20 records (python3-ipfix)."""
    engine, names, bad = None, {}, []
    for r in records:
        if "applicationDescription" in r:
            engine = (r.get("applicationName"), r.get("applicationDescription"))
        aid = r.get("applicationId")
        if aid is None or "flowEndReason" in r:
            continue
        aid = bytes(aid)
        if len(aid) != 7 or aid[0] != ENGINE_PANA_L7_PEN or int.from_bytes(aid[1:5], "big") != pen:
            bad.append(aid.hex())
        else:
            names[int.from_bytes(aid[5:7], "big")] = r.get("applicationName")
    return engine, names, bad


def label(names, master, app):
    """nDPI's ndpi_protocol2name: "Master.App" when both are known and differ, else App."""
    if master and master != app and app:
        return "%s.%s" % (names.get(master), names.get(app))
    return names.get(app or master, "?")


def check_capture(ck, daemon, tag, pcap, tmp, version, ref):
    out = os.path.join(tmp, tag + ".ipfix")
    out_csv = os.path.join(tmp, tag + ".csv")
    rx = T.UdpIpfixReceiver()
    rx.start()
    r = T.run([daemon, "--read", pcap, "--write", out, "--csv", out_csv,
               "--collector", "udp://127.0.0.1:%d" % rx.port])
    rx.finish()
    if not ck.check("%s: nfsensord exits 0" % tag, r.returncode == 0, T.tail(r.stderr)):
        return
    recs = T.read_ipfix_file(out)
    engine, names, bad = table_of(recs, T.PEN_OWN)
    ck.check("%s: applicationId of every table record is engine 20 + PEN %d + id" %
             (tag, T.PEN_OWN), not bad, " ".join(bad[:5]))
    ck.check("%s: the engine record names nDPI %s" % (tag, version),
             engine == ("nDPI", "nDPI %s" % version), repr(engine))
    wrong = ["%d: %r, ndpiReader %r" % (i, names.get(i), n)
             for i, n in sorted(ref.items()) if names.get(i) != n]
    ck.check("%s: the table names all %d ids ndpiReader -a 0 lists, as it does (%d records)" %
             (tag, len(ref), len(names)), not wrong and len(ref) > 100, "; ".join(wrong[:5]))
    _, udp_names, _ = table_of(rx.records, T.PEN_OWN)
    ck.check("%s: the UDP collector got the same table (%d records, %d datagrams)" %
             (tag, len(udp_names), rx.datagrams), udp_names == names and not rx.errors,
             "; ".join(rx.errors[:3]))

    flows = [x for x in recs if "flowEndReason" in x]
    rows = list(csv.DictReader(open(out_csv)))
    ids, missing, mislabeled = set(), [], []
    for f in flows:
        m, a = f.get("dpiMasterProtocolId", 0), f.get("dpiAppProtocolId", 0)
        ids.update((m, a))
        missing += [str(i) for i in (m, a) if i not in names]
        if f.get("applicationName") != label(names, m, a):
            mislabeled.append("%d.%d: %r, table gives %r" % (m, a, f.get("applicationName"),
                                                             label(names, m, a)))
    ck.check("%s: every id of the %d data records has a name in the table (%d distinct ids)" %
             (tag, len(flows), len(ids)), flows and not missing, ", ".join(sorted(set(missing))))
    ck.check("%s: applicationName (96) of every data record is the table's Master.App" % tag,
             not mislabeled, "; ".join(mislabeled[:5]))
    by_id = {int(x["id"]): x["application_name"] for x in rows}
    differ = [str(f.get("flowId")) for f in flows
              if by_id.get(f.get("flowId")) != f.get("applicationName")]
    ck.check("%s: applicationName equals the CSV's application_name, flow by flow" % tag,
             len(rows) == len(flows) and not differ, "flows %s" % ", ".join(differ[:10]))
    ck.info("%s: labels %s" % (tag, ", ".join(sorted({x["application_name"] for x in rows}))))

    d = T.run(["ipfixDump", "-i", out])
    text = d.stdout.decode(errors="replace")
    blocks = re.split(r"^--- ", text, flags=re.M)
    dumped = [b for b in blocks if b.startswith("data record") and
              ("(0x%x)" % TID_APPS in b or "(0x%x)" % (TID_APPS + 1) in b)]
    dump_names = sorted(re.search(r"applicationName : \(len: \d+\) ?(.*)", b).group(1)
                        for b in dumped)
    ck.check("%s: ipfixDump decodes the same %d table records" % (tag, len(names) + 1),
             d.returncode == 0 and dump_names == sorted(list(names.values()) + ["nDPI"]),
             "%d records" % len(dumped))


def main():
    ck = T.Checker("test_app_labels")
    daemon = T.need_daemon()
    T.need_tool("ipfixDump")
    T.need_tool("ndpiReader")
    try:
        import ipfix.reader  # noqa: F401
    except ImportError:
        T.skip("python3-ipfix not installed")
    ipfix_model()
    version, ref = ndpi_reference()
    ck.check("ndpiReader reports its version and protocol list", version and ref,
             "version %r, %d protocols" % (version, len(ref)))
    with T.tempdir("labels") as tmp:
        pcaps, _ = T.generate(tmp)
        check_capture(ck, daemon, "skeleton", pcaps[0], tmp, version, ref)
        corpus = os.path.join(T.source_dir(), "..", "shared", "pcaps", "corpus", CORPUS_CAPTURE)
        if os.path.exists(corpus):
            check_capture(ck, daemon, CORPUS_CAPTURE, corpus, tmp, version, ref)
        else:
            ck.info("no %s: the corpus case is left out" % corpus)
    ck.finish()


if __name__ == "__main__":
    main()
