#!/usr/bin/python3
"""
test_elements.py: the self-describing export.

  test_elements.py NFSENSORD SOURCE_DIR NFS_ELEMENTS EXPORT_NO_TYPES ELEMENTS_XML

1. docs/elements.md is what tools/nfs-elements generates from the code (else: regenerate it).
2. ipfixDump -e ELEMENTS_XML (the element file the build generates) names every enterprise
   element of a file exported WITHOUT RFC 5610 type records (tests/integration/export_no_types,
   every built-in plugin that starts on its defaults), and no element is left unnamed; without
   -e the same file names none of them, so the names really come from the element file.
3. ipfixDump --rfc5610 on nfsensord's own output (type records on, the default) names every
   enterprise element, and the dpi plugin's values equal the CSV's columns flow by flow.
"""

import csv
import difflib
import os
import re
import sys

import nfstest as t

ALIEN = "_alienInformationElement"


def own_elements(markdown):
    """(name, id, added by) of every enterprise element in the generated Markdown."""
    rows = []
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 7 and cells[0] == "own":
            rows.append((cells[1], int(cells[2]), cells[6]))
    return rows


LIST_IE = re.compile(r"\bie: \((\d+)/(\d+)\) (\S+)")


def named_fields(text):
    """{(pen, id): name} of every field ipfixDump printed in a data record, the items of RFC 6313
    basicLists included (ipfixDump names those in the list header: "ie: (PEN/ID) name")."""
    recs, _ = t.parse_ipfixdump(text)
    names = {}
    for r in recs:
        for key, (name, _, _) in r.items():
            names[key] = name
    for m in LIST_IE.finditer(text):
        names[(int(m.group(1)), int(m.group(2)))] = m.group(3)
    return names, recs


def check_markdown(ck, tools, src):
    r = t.run([tools["elements"], "--markdown", "-"])
    ck.check("nfs-elements --markdown runs", r.returncode == 0, t.tail(r.stderr))
    path = os.path.join(src, "docs", "elements.md")
    have = open(path).read() if os.path.exists(path) else ""
    want = r.stdout.decode()
    diff = "".join(list(difflib.unified_diff(have.splitlines(True), want.splitlines(True),
                                             "docs/elements.md", "generated"))[:40])
    ck.check("docs/elements.md is up to date", have == want,
             "regenerate: build/tools/nfs-elements --markdown docs/elements.md\n" + diff)
    return want


def check_element_file(ck, tools, pcap, tmp, owned):
    out = os.path.join(tmp, "no-types.ipfix")
    r = t.run([tools["export"], pcap, out])
    ck.check("export without RFC 5610 records", r.returncode == 0, t.tail(r.stderr))
    used = {"core"} | set(r.stdout.decode().split())
    ck.info("plugins exported: %s" % ", ".join(sorted(used)))
    want = {(t.PEN_OWN, i): n for n, i, who in owned if who in used}
    dump = t.run(["ipfixDump", "-e", tools["xml"], "-i", out])
    names, recs = named_fields(dump.stdout.decode(errors="replace"))
    ck.check("ipfixDump -e reads the file", dump.returncode == 0 and recs, t.tail(dump.stderr))
    wrong = {k: (n, names.get(k)) for k, n in want.items() if names.get(k) != n}
    ck.check("ipfixDump -e names all %d enterprise elements" % len(want), not wrong, str(wrong))
    alien = ALIEN in dump.stdout.decode(errors="replace")
    ck.check("no element left unnamed with the element file", not alien)
    bare = t.run(["ipfixDump", "-i", out]).stdout.decode(errors="replace")
    bare_names, _ = named_fields(bare)
    leaked = [n for k, n in want.items() if bare_names.get(k) == n]
    ck.check("without the element file the names are unknown (no type records)", not leaked,
             str(leaked))


def dpi_values_match(ck, recs, rows, owned):
    """The dpi plugin's string and number elements equal the CSV columns of the same flow."""
    by_id = {int(r["id"]): r for r in rows}
    columns = {"dpiApplicationName": "application_name", "dpiCategoryName":
               "application_category_name", "dpiServerName": "requested_server_name",
               "dpiClientFingerprint": "client_fingerprint", "dpiServerFingerprint":
               "server_fingerprint", "dpiUserAgent": "user_agent", "dpiContentType":
               "content_type", "dpiConfidence": "application_confidence", "dpiIsGuessed":
               "application_is_guessed"}
    ids = {n: i for n, i, who in owned if who == "dpi"}
    bad, checked = [], 0
    for rec in recs:
        fid = rec.get((0, 148))
        row = by_id.get(int(fid[1])) if fid else None
        if row is None:
            continue
        for name, col in columns.items():
            got = rec.get((t.PEN_OWN, ids.get(name, 0)))
            value = re.sub(r"^\(len: \d+\) ?", "", got[1]) if got else None
            checked += 1
            if value != row[col]:
                bad.append((row["id"], name, value, row[col]))
        iana = rec.get((0, 96))
        if iana is None or re.sub(r"^\(len: \d+\) ?", "", iana[1]) != row["application_name"]:
            bad.append((row["id"], "applicationName", iana, row["application_name"]))
    ck.check("dpi values in IPFIX equal the CSV (%d values)" % checked, checked and not bad,
             str(bad[:5]))


def check_rfc5610(ck, daemon, pcap, tmp, owned):
    out, out_csv = os.path.join(tmp, "types.ipfix"), os.path.join(tmp, "types.csv")
    r = t.run([daemon, "--read", pcap, "--plugin", "dpi", "--write", out, "--csv", out_csv])
    ck.check("nfsensord --plugin dpi exports", r.returncode == 0, t.tail(r.stderr))
    dump = t.run(["ipfixDump", "--rfc5610", "-i", out]).stdout.decode(errors="replace")
    names, recs = named_fields(dump)
    want = {(t.PEN_OWN, i): n for n, i, who in owned if who in ("core", "dpi")}
    wrong = {k: (n, names.get(k)) for k, n in want.items() if names.get(k) != n}
    ck.check("ipfixDump --rfc5610 names all %d core and dpi enterprise elements" % len(want),
             not wrong, str(wrong))
    ck.check("no element left unnamed with RFC 5610 records", ALIEN not in dump)
    with open(out_csv, newline="") as f:
        dpi_values_match(ck, recs, list(csv.DictReader(f)), owned)


def capture(ck, tmp, src):
    """A shared capture rich in DPI strings when present, else the generated skeleton."""
    shared = os.path.join(src, "..", "shared", "pcaps", "corpus", "1kxun.pcap")
    if os.path.exists(shared):
        return shared
    paths, _ = t.generate(tmp)
    return paths[0]


def main():
    daemon = t.need_daemon()
    src = t.source_dir()
    t.need_tool("ipfixDump")
    tools = {"elements": sys.argv[3], "export": sys.argv[4], "xml": sys.argv[5]}
    ck = t.Checker("elements")
    markdown = check_markdown(ck, tools, src)
    owned = own_elements(markdown)
    ck.check("the element table lists the dpi plugin's elements",
             any(who == "dpi" for _, _, who in owned))
    with t.tempdir("elements") as tmp:
        pcap = capture(ck, tmp, src)
        ck.info("capture: %s" % pcap)
        check_element_file(ck, tools, pcap, tmp, owned)
        check_rfc5610(ck, daemon, pcap, tmp, owned)
    ck.finish()


if __name__ == "__main__":
    main()
