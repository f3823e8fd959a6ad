#!/usr/bin/python3
"""
test_ipfixdump.py NFSENSORD [SOURCE_DIR]

nfsensord --write out.ipfix, decoded by libfixbuf's `ipfixDump -i out.ipfix --rfc5610`, whose
text output is parsed into records and compared field by field with the flows pcapgen.py
expects, for the default and the nfstream profile. Also checks that the enterprise elements
(PEN 32473) arrive named and typed by the RFC 5610 records in the stream.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402


def main():
    dump = T.need_tool("ipfixDump")
    daemon = T.need_daemon()
    ck = T.Checker("test_ipfixdump")
    with T.tempdir("ipfixdump") as tmp:
        pcaps, doc = T.generate(tmp)
        for profile in ("default", "nfstream"):
            out = os.path.join(tmp, "out-%s.ipfix" % profile)
            r = T.run([daemon, "--read", pcaps[0], "--write", out] + T.daemon_args(profile))
            ck.check("%s: nfsensord exits 0" % profile, r.returncode == 0,
                     "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
            d = T.run([dump, "-i", out, "--rfc5610"], timeout=60)
            ck.check("%s: ipfixDump reads the file" % profile, d.returncode == 0,
                     "rc %d: %s" % (d.returncode, T.tail(d.stderr)))
            text = d.stdout.decode("utf-8", "replace")
            flows, named = T.flows_from_ipfixdump(text)
            ck.check("%s: PEN 32473 elements named via RFC 5610 records" % profile, named,
                     "ipfixDump shows _alienInformationElement (no RFC 5610 type records)")
            T.check_complete(ck, "%s/ipfixDump" % profile, flows)
            T.compare_flows(ck, "%s/ipfixDump" % profile, T.expected_for(doc, profile), flows)
    ck.finish()


if __name__ == "__main__":
    main()
