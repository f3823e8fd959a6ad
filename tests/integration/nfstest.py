"""
nfstest.py: shared helpers of the integration tests (not a test itself).

Each test is run as `test_x.py NFSENSORD [SOURCE_DIR]` (meson passes both). It exits 0 on pass,
1 on failure, 77 (meson's skip code) when a tool it needs is missing.

Flows are compared in one normalised shape, whatever decoded them:
  src_ip, dst_ip (str, ipaddress-normalised), src_port, dst_port, protocol, ip_version, vlan_id,
  tunnel_id, src_mac, dst_mac (lowercase "aa:bb:..."), end_reason (IPFIX flowEndReason), and
  s2d / d2s: {first_seen_ms, last_seen_ms, packets, ip_octets, bytes (accounting mode),
  tcp_flags}.
A decoder leaves out what its collector does not keep; only the keys present are compared.
Flows are matched by (unordered endpoints, protocol, vlan, bidirectional first_seen_ms).
"""

import datetime
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77

PEN_OWN = 32473
PEN_REVERSE = 29305

# The daemon's CLI flags for the generated captures (pcapgen's defaults).
IDLE_S = 10
ACTIVE_S = 30


def source_dir():
    if len(sys.argv) > 2:
        return os.path.abspath(sys.argv[2])
    return os.path.abspath(os.path.join(HERE, "..", ".."))


def daemon_path():
    if len(sys.argv) > 1:
        return os.path.abspath(sys.argv[1])
    env = os.environ.get("NFSENSORD")
    if env:
        return env
    return os.path.join(source_dir(), "build", "daemon", "nfsensord")


def pcapgen():
    sys.path.insert(0, os.path.join(source_dir(), "tests", "tools"))
    import pcapgen as mod  # noqa: E402
    return mod


# --------------------------------------------------------------------------------------------
# Reporting


class Checker:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = []
        self.t0 = time.time()

    def check(self, label, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS  %s" % label)
        else:
            self.failed.append(label)
            print("FAIL  %s%s" % (label, (": " + detail) if detail else ""))
        sys.stdout.flush()
        return ok

    def info(self, msg):
        print("      %s" % msg)
        sys.stdout.flush()

    def finish(self):
        print("---- %s: %d passed, %d failed (%.1f s)" %
              (self.name, self.passed, len(self.failed), time.time() - self.t0))
        for f in self.failed:
            print("  failed: %s" % f)
        sys.exit(1 if self.failed else 0)


def skip(msg):
    print("SKIP  %s" % msg)
    sys.exit(SKIP)


def need_tool(path_or_name):
    import shutil
    p = shutil.which(path_or_name)
    if not p:
        skip("%s not found" % path_or_name)
    return p


def need_daemon():
    d = daemon_path()
    if not os.access(d, os.X_OK):
        skip("nfsensord not built at %s" % d)
    return d


# --------------------------------------------------------------------------------------------
# Processes and sockets


def run(cmd, timeout=120, stdin=None, capture=True):
    """Runs cmd; never hangs (the process group is killed after timeout)."""
    print("      $ %s" % " ".join(cmd))
    sys.stdout.flush()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE if capture else None,
                         stderr=subprocess.PIPE if capture else None,
                         stdin=subprocess.DEVNULL if stdin is None else stdin,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return subprocess.CompletedProcess(cmd, -9, out or b"",
                                           (err or b"") + b"\n[killed after timeout]")
    return subprocess.CompletedProcess(cmd, p.returncode, out or b"", err or b"")


def stop(p, sig=signal.SIGTERM, timeout=10):
    """Stops a Popen we started, by its pid; SIGKILL if it does not go."""
    if p.poll() is not None:
        return p.returncode
    p.send_signal(sig)
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait(timeout=5)


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tail(b, n=1500):
    s = b.decode("utf-8", "replace") if isinstance(b, bytes) else b
    return s if len(s) <= n else "..." + s[-n:]


def tempdir(prefix):
    return tempfile.TemporaryDirectory(prefix="nfs-%s-" % prefix)


def daemon_args(profile, idle=IDLE_S, active=ACTIVE_S):
    a = ["--idle-timeout", str(idle), "--active-timeout", str(active)]
    if profile == "nfstream":
        a += ["--profile", "nfstream"]
    return a


# --------------------------------------------------------------------------------------------
# Expected flows


def load_expected(jpath):
    with open(jpath) as f:
        return json.load(f)


def normalise_expected(e, mode=0):
    def d(x):
        return {"first_seen_ms": x["first_seen_ms"], "last_seen_ms": x["last_seen_ms"],
                "packets": x["packets"], "ip_octets": x["ip_octets"],
                "bytes": x["bytes"][mode], "tcp_flags": x["tcp_flags"]}
    out = {k: e[k] for k in ("src_ip", "dst_ip", "src_port", "dst_port", "protocol",
                            "ip_version", "vlan_id", "tunnel_id", "src_mac", "dst_mac",
                            "end_reason", "expiration_id")}
    out["s2d"], out["d2s"] = d(e["src2dst"]), d(e["dst2src"])
    out["bidir_first_ms"] = e["bidirectional"]["first_seen_ms"]
    out["label"] = "%s [%s]" % (e["note"], e["scenario"])
    return out


def bidir_first(f):
    if "bidir_first_ms" in f:
        return f["bidir_first_ms"]
    firsts = [f[d]["first_seen_ms"] for d in ("s2d", "d2s")
              if f.get(d, {}).get("packets", 1) and f.get(d, {}).get("first_seen_ms")]
    return min(firsts) if firsts else 0


def match_key(f):
    ends = sorted([(f["src_ip"], f["src_port"]), (f["dst_ip"], f["dst_port"])])
    return (tuple(ends), f["protocol"], f.get("vlan_id", 0), bidir_first(f))


def compare_flows(ck, label, expected, observed, fields=None, dir_fields=None):
    """expected: normalised expected flows; observed: normalised decoded flows.

    fields / dir_fields: which keys to compare (default: every key the observed flow has)."""
    exp_by = {}
    for e in expected:
        exp_by.setdefault(match_key(e), []).append(e)
    obs_by = {}
    for o in observed:
        obs_by.setdefault(match_key(o), []).append(o)
    ck.check("%s: flow count %d" % (label, len(expected)), len(observed) == len(expected),
             "got %d flows" % len(observed))
    for k, es in exp_by.items():
        e = es[0]
        os_ = obs_by.get(k, [])
        if len(os_) != 1:
            ck.check("%s: %s present once" % (label, e["label"]), False,
                     "found %d records with key %s" % (len(os_), k))
            continue
        o = os_[0]
        bad = []
        for f in (fields or [x for x in o if x not in ("s2d", "d2s", "label")]):
            if f in o and f in e and o[f] != e[f]:
                bad.append("%s=%r (expected %r)" % (f, o[f], e[f]))
        for dname in ("s2d", "d2s"):
            od, ed = o.get(dname), e[dname]
            if od is None:
                continue
            for f in (dir_fields or list(od)):
                if f in od and od[f] != ed[f]:
                    bad.append("%s.%s=%r (expected %r)" % (dname, f, od[f], ed[f]))
        ck.check("%s: %s %s:%s->%s:%s first %d" % (label, e["label"], e["src_ip"], e["src_port"],
                                                  e["dst_ip"], e["dst_port"], k[3]),
                 not bad, "; ".join(bad))
    for k, os_ in obs_by.items():
        if k not in exp_by:
            for o in os_:
                ck.check("%s: unexpected record" % label, False, flow_str(o))


FLOW_KEYS = ("src_ip", "dst_ip", "src_port", "dst_port", "protocol", "ip_version", "vlan_id",
             "tunnel_id", "src_mac", "dst_mac", "end_reason")
DIR_KEYS = ("first_seen_ms", "last_seen_ms", "packets", "ip_octets", "bytes", "tcp_flags")


def check_complete(ck, label, flows, keys=FLOW_KEYS, dir_keys=DIR_KEYS):
    """Every decoded flow carries every element the IPFIX mapping promises (a decoder or
    parser that silently loses one would otherwise make the comparison skip it)."""
    missing = set()
    for f in flows:
        missing.update(k for k in keys if k not in f)
        for d in ("s2d", "d2s"):
            missing.update("%s.%s" % (d, k) for k in dir_keys if k not in f.get(d, {}))
    ck.check("%s: every record has all %d flow elements" % (label, len(keys) +
                                                             2 * len(dir_keys)),
             bool(flows) and not missing,
             "missing: %s" % ", ".join(sorted(missing)) if flows else "no flow records")


def flow_str(f):
    return "%s:%s->%s:%s proto %s vlan %s first %s s2d %s d2s %s reason %s" % (
        f.get("src_ip"), f.get("src_port"), f.get("dst_ip"), f.get("dst_port"),
        f.get("protocol"), f.get("vlan_id"), bidir_first(f), f.get("s2d"), f.get("d2s"),
        f.get("end_reason"))


# --------------------------------------------------------------------------------------------
# Decoded IPFIX -> normalised flow. `get(pen, id)` returns a python value or None.


def _ms(v):
    if v is None:
        return None
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (v - epoch) // datetime.timedelta(milliseconds=1)
    return int(v)


def _mac(v):
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        return ":".join("%02x" % b for b in v)
    return str(v).lower()


def _ip(v):
    return None if v is None else str(ipaddress.ip_address(v if not isinstance(v, bytes)
                                                            else bytes(v)))


def flow_from_ies(get):
    """Builds a normalised flow from IPFIX elements; None if the record is not a flow."""
    src = get(0, 8) or get(0, 27)
    dst = get(0, 12) or get(0, 28)
    if src is None or dst is None:
        return None

    def direction(pen, acc_id):
        packets = get(pen, 2)
        d = {"first_seen_ms": _ms(get(pen, 152)), "last_seen_ms": _ms(get(pen, 153)),
             "packets": packets, "ip_octets": get(pen, 1),
             "bytes": get(PEN_OWN, acc_id), "tcp_flags": get(pen, 6)}
        d = {k: (int(v) if v is not None else None) for k, v in d.items()}
        if packets == 0:
            # no packet that way: times are meaningless (the daemon may send 0)
            d["first_seen_ms"] = d["last_seen_ms"] = 0
        return {k: v for k, v in d.items() if v is not None}

    f = {"src_ip": _ip(src), "dst_ip": _ip(dst),
         "src_port": get(0, 7), "dst_port": get(0, 11), "protocol": get(0, 4),
         "ip_version": get(0, 60), "vlan_id": get(0, 58), "tunnel_id": get(PEN_OWN, 1001),
         "src_mac": _mac(get(0, 56)), "dst_mac": _mac(get(0, 80)),
         "end_reason": get(0, 136), "flow_id": get(0, 148),
         # the label (IANA applicationName) and nDPI's ids (named by the options records)
         "application_name": get(0, 96), "dpi_master_id": get(PEN_OWN, 1200),
         "dpi_app_id": get(PEN_OWN, 1201)}
    f = {k: (int(v) if isinstance(v, int) else v) for k, v in f.items() if v is not None}
    f["s2d"] = direction(0, 1002)
    f["d2s"] = direction(PEN_REVERSE, 1003)
    if f.get("vlan_id") is None:
        f["vlan_id"] = 0
    return f


# --------------------------------------------------------------------------------------------
# ipfixDump text output


def parse_ipfixdump(text):
    """Parses `ipfixDump` output into a list of data records, each a dict
    {(pen, id): (name, value_str, length)}; lengths come from the templates."""
    import re
    records, cur, tmpl, templates, cur_tid = [], None, None, {}, None
    fld = re.compile(r"^\s+\((\d+)(?:/(\d+))?\)\s*(?:\(S\)\s*)?(\S+) : (.*)$")
    tfld = re.compile(r"^\s+ent:\s+(\d+)\s+id:\s+(\d+)\s+type:\s+(\S+)\s+len:\s+(\d+)")
    tid_re = re.compile(r"tid:\s+(\d+)")
    mode = None
    for line in text.splitlines():
        if line.startswith("--- data record"):
            cur = {}
            records.append(cur)
            mode = "data"
            continue
        if line.startswith("--- template record") or line.startswith("--- options template"):
            mode = "tmpl"
            tmpl = []
            continue
        if line.startswith("---") or line.startswith("***"):
            mode = None
            continue
        m = tid_re.search(line)
        if m and "tid:" in line:
            cur_tid = int(m.group(1))
            if mode == "tmpl":
                templates[cur_tid] = tmpl
            elif mode == "data":
                cur["_tid"] = cur_tid
            continue
        if mode == "tmpl":
            m = tfld.match(line)
            if m:
                tmpl.append((int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4))))
            continue
        if mode == "data":
            m = fld.match(line)
            if m:
                if m.group(2) is not None:
                    key = (int(m.group(1)), int(m.group(2)))
                else:
                    key = (0, int(m.group(1)))
                cur[key] = (m.group(3), m.group(4).strip())
    out = []
    for r in records:
        t = templates.get(r.pop("_tid", None), [])
        lens = {(pen, iid): (typ, ln) for pen, iid, typ, ln in t}
        out.append({k: (v[0], v[1], lens.get(k, (None, None))) for k, v in r.items()})
    return out, templates


def ipfixdump_value(name, s, typ_len):
    """Python value of one ipfixDump field string."""
    typ, ln = typ_len
    s = s.strip()
    if name == "_alienInformationElement" or typ == "octet":
        # no type known: ipfixDump prints small octet arrays as a little-endian integer
        try:
            v = int(s)
            return int.from_bytes(v.to_bytes(ln or 8, "little"), "big")
        except (ValueError, OverflowError):
            return s
    if typ == "millisec" or (typ is None and len(s) >= 19 and s[4] == "-" and s[10] == " "):
        dt = datetime.datetime.strptime(s[:23] if "." in s else s, "%Y-%m-%d %H:%M:%S.%f"
                                        if "." in s else "%Y-%m-%d %H:%M:%S")
        return dt.replace(tzinfo=datetime.timezone.utc)
    if typ == "string":
        return re.sub(r"^\(len: \d+\) ?", "", s)  # "(len: 3) DNS"
    if typ in ("ipv4", "ipv6"):
        return s
    if typ == "mac":
        return s
    try:
        return int(s, 0) if s.startswith("0x") else int(s)
    except ValueError:
        return s


def flows_from_ipfixdump(text):
    recs, _ = parse_ipfixdump(text)
    flows, named = [], True
    for r in recs:
        def get(pen, iid, r=r):
            v = r.get((pen, iid))
            return None if v is None else ipfixdump_value(*v)
        f = flow_from_ies(get)
        if f is not None:
            flows.append(f)
            if any(k[0] == PEN_OWN and v[0] == "_alienInformationElement"
                   for k, v in r.items()):
                named = False
    return flows, named


# --------------------------------------------------------------------------------------------
# python3-ipfix


def ipfix_model():
    import ipfix.ie
    if getattr(ipfix_model, "done", False):
        return
    ipfix.ie.use_iana_default()
    ipfix.ie.use_5103_default()
    for spec in ("tunnelId(32473/1001)<unsigned8>[1]",
                 "accountedOctetDeltaCount(32473/1002)<unsigned64>[8]",
                 "reverseAccountedOctetDeltaCount(32473/1003)<unsigned64>[8]"):
        ipfix.ie.for_spec(spec)
    ipfix_model.done = True


def ie_names():
    """(pen, id) -> python3-ipfix name, for the elements flow_from_ies reads."""
    import ipfix.ie
    ipfix_model()
    out = {}
    for ie in ipfix.ie.dump_infomodel():
        out[(ie.pen, ie.num)] = ie.name
    return out


def flows_from_namedicts(recs):
    names = ie_names()
    flows = []
    for r in recs:
        def get(pen, iid, r=r):
            n = names.get((pen, iid))
            return r.get(n) if n else None
        f = flow_from_ies(get)
        if f is not None:
            flows.append(f)
    return flows


def read_ipfix_file(path):
    import ipfix.reader
    ipfix_model()
    with open(path, "rb") as f:
        r = ipfix.reader.from_stream(f)
        return list(r.namedict_iterator())


class UdpReceiver(threading.Thread):
    """Receives datagrams on 127.0.0.1 (any free port) until finish(); take() gets each."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.datagrams = 0
        self.last_rx = time.time()
        self._halt = threading.Event()

    def take(self, data):
        pass

    def run(self):
        while not self._halt.is_set():
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            self.datagrams += 1
            self.last_rx = time.time()
            self.take(data)

    def finish(self, quiet_s=1.0, max_s=10):
        t_end = time.time() + max_s
        while time.time() < t_end and time.time() - self.last_rx < quiet_s:
            time.sleep(0.1)
        self._halt.set()
        self.join(5)
        self.sock.close()


class UdpIpfixReceiver(UdpReceiver):
    """Receives IPFIX over UDP on 127.0.0.1; decodes with python3-ipfix."""

    def __init__(self):
        super().__init__()
        import ipfix.message
        ipfix_model()
        self.msg = ipfix.message.MessageBuffer()
        self.records, self.errors = [], []

    def take(self, data):
        try:
            self.msg.from_bytes(data)
            self.records.extend(self.msg.namedict_iterator())
        except Exception as e:  # keep receiving; report at the end
            self.errors.append(repr(e))


class TcpIpfixReceiver(threading.Thread):
    """Accepts one TCP connection on 127.0.0.1 and decodes the IPFIX stream until EOF."""

    def __init__(self):
        super().__init__(daemon=True)
        ipfix_model()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.lsock.settimeout(60)
        self.port = self.lsock.getsockname()[1]
        self.records, self.errors, self.connections = [], [], 0
        self.eof = threading.Event()

    def run(self):
        import ipfix.reader
        try:
            conn, _ = self.lsock.accept()
        except Exception as e:
            self.errors.append("accept: %r" % e)
            self.eof.set()
            return
        self.connections += 1
        conn.settimeout(60)
        try:
            with conn, conn.makefile("rb") as f:
                r = ipfix.reader.from_stream(f)
                for rec in r.namedict_iterator():
                    self.records.append(rec)
        except Exception as e:
            self.errors.append(repr(e))
        self.eof.set()

    def finish(self, max_s=15):
        self.eof.wait(max_s)
        self.lsock.close()
        return self.eof.is_set()


# --------------------------------------------------------------------------------------------
# Generated capture + daemon


def generate(outdir, **kw):
    """Writes the skeleton capture (or a variant) into outdir; returns (pcaps, doc)."""
    pg = pcapgen()
    paths, jpath, _ = pg.generate(outdir, **kw)
    return paths, load_expected(jpath)


def expected_for(doc, profile, mode=0):
    return [normalise_expected(e, mode) for e in doc["profiles"][profile]]
