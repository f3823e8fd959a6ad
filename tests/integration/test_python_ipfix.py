#!/usr/bin/python3
"""
test_python_ipfix.py NFSENSORD [SOURCE_DIR]

nfsensord's IPFIX decoded by python3-ipfix (IANA + RFC 5103 reverse elements + the project's
PEN 32473 elements), compared field by field with the flows pcapgen.py expects, for the
default and the nfstream profile, over three transports: an IPFIX file (--write), UDP
(--collector udp://127.0.0.1:PORT) and TCP (--collector tcp://127.0.0.1:PORT).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest as T  # noqa: E402


def main():
    try:
        import ipfix.reader  # noqa: F401
    except ImportError:
        T.skip("python3-ipfix not installed")
    daemon = T.need_daemon()
    ck = T.Checker("test_python_ipfix")
    with T.tempdir("pyipfix") as tmp:
        pcaps, doc = T.generate(tmp)
        pcap = pcaps[0]
        for profile in ("default", "nfstream"):
            expected = T.expected_for(doc, profile)
            base = [daemon, "--read", pcap] + T.daemon_args(profile)

            # 1. file
            out = os.path.join(tmp, "out-%s.ipfix" % profile)
            r = T.run(base + ["--write", out])
            ck.check("%s/file: nfsensord exits 0" % profile, r.returncode == 0,
                     "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
            try:
                recs = T.read_ipfix_file(out)
            except Exception as e:
                ck.check("%s/file: python3-ipfix reads %s" % (profile, out), False, repr(e))
                recs = []
            flows = T.flows_from_namedicts(recs)
            T.check_complete(ck, "%s/file" % profile, flows)
            T.compare_flows(ck, "%s/file" % profile, expected, flows)

            # 2. UDP
            rx = T.UdpIpfixReceiver()
            rx.start()
            r = T.run(base + ["--collector", "udp://127.0.0.1:%d" % rx.port])
            rx.finish()
            ck.check("%s/udp: nfsensord exits 0" % profile, r.returncode == 0,
                     "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
            ck.check("%s/udp: datagrams decode without error" % profile, not rx.errors,
                     "; ".join(rx.errors[:3]))
            print("      udp: %d datagrams, %d records" % (rx.datagrams, len(rx.records)))
            flows = T.flows_from_namedicts(rx.records)
            T.check_complete(ck, "%s/udp" % profile, flows)
            T.compare_flows(ck, "%s/udp" % profile, expected, flows)

            # 3. TCP
            rx = T.TcpIpfixReceiver()
            rx.start()
            r = T.run(base + ["--collector", "tcp://127.0.0.1:%d" % rx.port])
            eof = rx.finish()
            ck.check("%s/tcp: nfsensord exits 0" % profile, r.returncode == 0,
                     "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
            ck.check("%s/tcp: one connection, closed at the end (EOF)" % profile,
                     rx.connections == 1 and eof,
                     "connections %d, eof %s" % (rx.connections, eof))
            ck.check("%s/tcp: stream decodes without error" % profile, not rx.errors,
                     "; ".join(rx.errors[:3]))
            flows = T.flows_from_namedicts(rx.records)
            T.check_complete(ck, "%s/tcp" % profile, flows)
            T.compare_flows(ck, "%s/tcp" % profile, expected, flows)
        # 4. file + UDP + TCP from one run: every output gets every flow; the observation
        #    domain is the one asked for
        urx, trx = T.UdpIpfixReceiver(), T.TcpIpfixReceiver()
        urx.start()
        trx.start()
        out = os.path.join(tmp, "out-all.ipfix")
        r = T.run([daemon, "--read", pcap, "--write", out, "--observation-domain", "4242",
                   "--collector", "udp://127.0.0.1:%d" % urx.port,
                   "--collector", "tcp://127.0.0.1:%d" % trx.port] + T.daemon_args("default"))
        urx.finish()
        trx.finish()
        ck.check("all outputs at once: nfsensord exits 0", r.returncode == 0,
                 "rc %d: %s" % (r.returncode, T.tail(r.stderr)))
        expected = T.expected_for(doc, "default")
        try:
            recs = T.read_ipfix_file(out)
        except Exception as e:
            ck.check("all outputs at once: file decodes", False, repr(e))
            recs = []
        for name, rr in (("file", recs), ("udp", urx.records), ("tcp", trx.records)):
            T.compare_flows(ck, "all outputs at once/%s" % name, expected,
                            T.flows_from_namedicts(rr))
        domains = set()
        if os.path.exists(out):
            with open(out, "rb") as f:
                data = f.read()
            off = 0
            while off + 16 <= len(data):
                length = int.from_bytes(data[off + 2:off + 4], "big")
                domains.add(int.from_bytes(data[off + 12:off + 16], "big"))
                if length < 16:
                    break
                off += length
        ck.check("--observation-domain 4242: every message of the file carries it",
                 domains == {4242}, "domains %s" % sorted(domains))
    ck.finish()


if __name__ == "__main__":
    main()
