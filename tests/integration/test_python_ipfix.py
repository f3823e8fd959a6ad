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
    ck.finish()


if __name__ == "__main__":
    main()
