#!/usr/bin/python3
"""
test_systemd_unit.py NFSENSORD [SOURCE_DIR]: what `meson install` puts on a system, and the unit.

Installs the build into a DESTDIR and checks every installed piece: the binary, the unit (its
paths are this build's sbindir and sysconfdir), the sysusers and tmpfiles snippets, the
configuration in sysconfdir/nfsensor (which the installed binary accepts) and the man page; the
template nfsensord@.service reads sysconfdir/nfsensor/IFACE.yaml.
`systemd-analyze verify` then checks the installed unit. It resolves ExecStart= on the running
system, where nothing is installed, so it verifies a copy whose commands point into the
DESTDIR (the only change). `systemd-analyze security --offline=true` rates the unit; the test
prints the figure and requires it below 2.0 (DESIGN.md §8). The man page in Documentation=
is found in the DESTDIR too (MANPATH).
"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfstest  # noqa: E402


def main():
    ck = nfstest.Checker("test_systemd_unit")
    daemon = nfstest.need_daemon()
    analyze = nfstest.need_tool("systemd-analyze")
    meson = nfstest.need_tool("meson")
    build = os.path.dirname(os.path.dirname(daemon))
    opts = json.loads(subprocess.run([meson, "introspect", build, "--buildoptions"],
                                     capture_output=True, text=True, check=True).stdout)
    opt = {o["name"]: o["value"] for o in opts}

    def under(prefix, d):
        return d if os.path.isabs(d) else os.path.join(prefix, d)

    prefix = opt["prefix"]
    sbindir, sysconfdir = under(prefix, opt["sbindir"]), under(prefix, opt["sysconfdir"])
    mandir = under(prefix, opt["mandir"])
    with nfstest.tempdir("install") as work:
        dest = os.path.join(work, "dest")
        r = nfstest.run([meson, "install", "-C", build, "--destdir", dest, "--no-rebuild",
                         "--quiet"], timeout=120)
        ck.check("meson install into a DESTDIR", r.returncode == 0, nfstest.tail(r.stderr))

        def d(path):
            return dest + path

        binary = d(os.path.join(sbindir, "nfsensord"))
        unit = d(os.path.join(prefix, "lib/systemd/system/nfsensord.service"))
        conf = d(os.path.join(sysconfdir, "nfsensor/nfsensor.yaml"))
        for label, path in (("binary", binary), ("unit", unit), ("configuration", conf),
                            ("sysusers.d snippet", d(os.path.join(prefix,
                                                                  "lib/sysusers.d/nfsensor.conf"))),
                            ("tmpfiles.d snippet", d(os.path.join(prefix,
                                                                  "lib/tmpfiles.d/nfsensor.conf"))),
                            ("man page nfsensord(8)", d(os.path.join(mandir,
                                                                     "man8/nfsensord.8")))):
            ck.check("installed: %s" % label, os.path.isfile(path), path)
        if not os.path.isfile(unit):
            ck.finish()
        r = nfstest.run([binary, "--check-config", "--config", conf])
        ck.check("the installed binary accepts the installed configuration",
                 r.returncode == 0 and b"configuration OK" in r.stderr, nfstest.tail(r.stderr))
        text = open(unit).read()
        ck.check("the unit runs this build's binary with its configuration",
                 "ExecStart=%s/nfsensord --config %s/nfsensor/nfsensor.yaml" %
                 (sbindir, sysconfdir) in text, text[:600])
        verify_dir = os.path.join(work, "verify")
        os.makedirs(verify_dir)
        copy = os.path.join(verify_dir, "nfsensord.service")
        with open(copy, "w") as f:
            f.write(text.replace(os.path.join(sbindir, "nfsensord"), binary))
        # Documentation=man:nfsensord(8): verify runs man(1), which finds the installed page.
        r = subprocess.run([analyze, "verify", copy], capture_output=True, timeout=60,
                           env=dict(os.environ, MANPATH=d(mandir)))
        ck.check("systemd-analyze verify accepts the unit", r.returncode == 0 and
                 b"nfsensord.service" not in r.stderr + r.stdout,
                 nfstest.tail(r.stdout + r.stderr))
        # The template (nfsensord@IFACE.service), made from the same file: one instance's copy.
        template = d(os.path.join(prefix, "lib/systemd/system/nfsensord@.service"))
        ttext = open(template).read() if os.path.isfile(template) else ""
        ck.check("the template unit reads sysconfdir/nfsensor/IFACE.yaml",
                 "ExecStart=%s/nfsensord --config %s/nfsensor/%%i.yaml" % (sbindir, sysconfdir)
                 in ttext, ttext[:600])
        instance = os.path.join(verify_dir, "nfsensord@eth0.service")
        with open(instance, "w") as f:
            f.write(ttext.replace(os.path.join(sbindir, "nfsensord"), binary))
        r = subprocess.run([analyze, "verify", instance], capture_output=True, timeout=60,
                           env=dict(os.environ, MANPATH=d(mandir)))
        ck.check("systemd-analyze verify accepts an instance of the template",
                 r.returncode == 0 and b"nfsensord" not in r.stderr + r.stdout,
                 nfstest.tail(r.stdout + r.stderr))
        r = nfstest.run([analyze, "security", "--offline=true", copy], timeout=60)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        m = re.search(r"Overall exposure level for nfsensord.service: ([\d.]+) (\S+)", out)
        if m:
            print("exposure: systemd-analyze security --offline=true rates nfsensord.service "
                  "%s %s" % (m.group(1), m.group(2)))
        ck.check("systemd-analyze security: exposure below 2.0",
                 m is not None and float(m.group(1)) < 2.0, nfstest.tail(out))
        if shutil.which("man"):
            r = nfstest.run(["man", "--warnings", "-l", "-Tutf8",
                             d(os.path.join(mandir, "man8/nfsensord.8"))])
            ck.check("man renders nfsensord(8) without warnings",
                     r.returncode == 0 and not r.stderr.strip(), nfstest.tail(r.stderr))
    ck.finish()


if __name__ == "__main__":
    main()
