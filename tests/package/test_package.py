#!/usr/bin/python3
"""
test_package.py SOURCE_DIR: the Debian package (debian/), built, installed and removed.

Copies the source tree (the files git tracks or would track, as they are in the working tree)
to a temporary directory and builds it there with `dpkg-buildpackage -us -uc -b` (the build
writes next to the source, so never in the checkout). It checks the .deb holds every piece
(daemon, both units, sysusers and tmpfiles snippets, configuration as a conffile, man page,
element file, example plugin, documentation), then, as root and holding a lock so that two
runs on one machine never meet, installs it with `dpkg -i` and checks the installed system:
the nfsensor user and its state directory, the installed nfsensord accepting the installed
configuration (--check-config), the units in /lib/systemd/system, which `systemd-analyze
verify` accepts, neither unit enabled (`systemctl is-enabled`, no .wants link) nor started (no
nfsensord process from /usr/sbin; `systemctl is-active` when systemd runs). `dpkg --purge`
then removes it all; the nfsensor user is removed too when this test made it. lintian's output
is printed whole; any E: line fails. The build time is printed (a figure, not a check).
Exits 77 when not root or a packaging tool is missing (tools/setup installs them).
"""
import fcntl
import glob
import os
import pwd
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import nfstest  # noqa: E402

LOCK = "/run/lock/nfsensor-package-test.lock"
UNITS = ("nfsensord.service", "nfsensord@.service")
IN_DEB = (
    "./usr/sbin/nfsensord",
    "./lib/systemd/system/nfsensord.service",
    "./lib/systemd/system/nfsensord@.service",
    "./usr/lib/sysusers.d/nfsensor.conf",
    "./usr/lib/tmpfiles.d/nfsensor.conf",
    "./etc/nfsensor/nfsensor.yaml",
    "./etc/nfsensor/models/app_protocol.yaml",
    "./usr/share/man/man8/nfsensord.8.gz",
    "./usr/share/nfsensor/nfsensor-elements.xml",
    "./usr/lib/*/nfsensor/plugins/big_packets.so",
    "./usr/share/doc/nfsensor/README.md",
    "./usr/share/doc/nfsensor/examples/big_packets.c",
    "./usr/share/doc/nfsensor/copyright",
)


def copy_source(src, dest):
    # safe.directory: CI's root may run in a clone another user owns.
    r = subprocess.run(["git", "-c", "safe.directory=*", "-C", src, "ls-files", "-z", "--cached",
                        "--others", "--exclude-standard"], capture_output=True, check=True)
    for rel in r.stdout.decode().split("\0"):
        path = os.path.join(src, rel)
        if not rel or not os.path.lexists(path):
            continue  # deleted in the working tree
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(path, os.path.join(dest, rel), follow_symlinks=False)


def deb_field(deb, part):
    return subprocess.run(["dpkg-deb", "-I", deb, part], capture_output=True,
                          text=True).stdout


def build(ck, src, work):
    version = subprocess.run(["dpkg-parsechangelog", "-l", os.path.join(src, "debian/changelog"),
                              "-S", "Version"], capture_output=True, text=True).stdout.strip()
    tree = os.path.join(work, "nfsensor-%s" % version)
    copy_source(src, tree)
    t0 = time.monotonic()
    r = nfstest.run(["sh", "-c", 'cd "$1" && exec dpkg-buildpackage -us -uc -b', "sh", tree],
                    timeout=900)
    seconds = time.monotonic() - t0
    ck.info("dpkg-buildpackage -us -uc -b: %.1f s wall" % seconds)
    debs = glob.glob(os.path.join(work, "nfsensor_%s_*.deb" % version))
    ck.check("dpkg-buildpackage -us -uc -b builds nfsensor_%s" % version,
             r.returncode == 0 and len(debs) == 1, nfstest.tail(r.stdout + r.stderr, 3000))
    return (debs[0] if r.returncode == 0 and len(debs) == 1 else None), version


def check_deb(ck, deb):
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True).stdout
    paths = [line.split()[5] for line in listing.splitlines() if len(line.split()) >= 6]
    missing = [p for p in IN_DEB if not any(re.fullmatch(p.replace(".", r"\.")
                                                         .replace("*", "[^/]+"), q)
                                            for q in paths)]
    ck.check("the .deb holds daemon, units, snippets, configuration, man page, element file, "
             "example plugin, docs", not missing, "missing %s" % missing)
    conffiles = deb_field(deb, "conffiles").split()
    ck.check("the configuration is a conffile", "/etc/nfsensor/nfsensor.yaml" in conffiles,
             str(conffiles))
    postinst = deb_field(deb, "postinst")
    ck.check("postinst starts nothing (no deb-systemd-invoke) and enables only what was "
             "enabled before an upgrade", "deb-systemd-invoke" not in postinst and
             re.search(r"was-enabled 'nfsensord.service'; then\s+# Create new symlinks, if "
                       r"any.\s+deb-systemd-helper enable", postinst) is not None and
             postinst.count("deb-systemd-helper enable") == 1, postinst)


def lintian(ck, work):
    changes = glob.glob(os.path.join(work, "nfsensor_*.changes"))
    r = nfstest.run(["lintian", "--display-info"] + changes, timeout=300)
    out = r.stdout.decode(errors="replace")
    ck.info("lintian output:\n" + (out.rstrip() or "(none)"))
    errors = [line for line in out.splitlines() if line.startswith("E:")]
    ck.check("lintian: no error (E:)", changes and r.returncode == 0 and not errors and
             "nfsensor" in " ".join(changes), "\n".join(errors) or nfstest.tail(r.stderr))


def nfsensord_processes():
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink("/proc/%s/exe" % pid) == "/usr/sbin/nfsensord":
                out.append(int(pid))
        except OSError:
            pass
    return out


def installed(ck, deb, version, work):
    r = nfstest.run(["dpkg", "-i", deb], timeout=300)
    ck.check("dpkg -i installs it", r.returncode == 0, nfstest.tail(r.stdout + r.stderr))
    if r.returncode != 0:
        return
    try:
        user = pwd.getpwnam("nfsensor")
    except KeyError:
        user = None
    ck.check("postinst made the nfsensor user (sysusers.d)", user is not None)
    st = os.stat("/var/lib/nfsensor") if os.path.isdir("/var/lib/nfsensor") else None
    ck.check("postinst made /var/lib/nfsensor for it (tmpfiles.d)",
             st is not None and user is not None and st.st_uid == user.pw_uid, str(st))
    r = nfstest.run(["/usr/sbin/nfsensord", "--check-config", "--config",
                     "/etc/nfsensor/nfsensor.yaml"])
    ck.check("the installed nfsensord accepts the installed configuration",
             r.returncode == 0 and b"configuration OK" in r.stderr, nfstest.tail(r.stderr))
    r = nfstest.run(["/usr/sbin/nfsensord", "--version"])
    ck.check("nfsensord --version is the package's version (meson.build and debian/changelog "
             "agree)", r.stdout.decode().strip() == "nfsensord %s" % version,
             r.stdout.decode())
    listed = subprocess.run(["dpkg", "-L", "nfsensor"], capture_output=True,
                            text=True).stdout.split()
    for unit in UNITS:
        path = "/lib/systemd/system/" + unit
        ck.check("unit installed at %s" % path, path in listed and os.path.isfile(path))
    text = open("/lib/systemd/system/nfsensord@.service").read()
    ck.check("the template reads /etc/nfsensor/%i.yaml",
             "ExecStart=/usr/sbin/nfsensord --config /etc/nfsensor/%i.yaml" in text, text[:800])
    analyze = shutil.which("systemd-analyze")
    if analyze:
        copy = os.path.join(work, "nfsensord@eth0.service")
        shutil.copy("/lib/systemd/system/nfsensord@.service", copy)
        for target in ("/lib/systemd/system/nfsensord.service", copy):
            r = nfstest.run([analyze, "verify", target], timeout=60)
            ck.check("systemd-analyze verify %s" % os.path.basename(target),
                     r.returncode == 0 and b"nfsensord" not in r.stdout + r.stderr,
                     nfstest.tail(r.stdout + r.stderr))
    r = nfstest.run(["systemctl", "is-enabled", "nfsensord.service"])
    wants = glob.glob("/etc/systemd/system/*.wants/nfsensord*")
    ck.check("not enabled: systemctl is-enabled says disabled, no .wants link",
             r.stdout.decode().strip() == "disabled" and not wants,
             "%s %s" % (r.stdout.decode().strip(), wants))
    procs = nfsensord_processes()
    ck.check("not started: no /usr/sbin/nfsensord process", not procs, str(procs))
    if os.path.isdir("/run/systemd/system"):
        r = nfstest.run(["systemctl", "is-active", "nfsensord.service"])
        ck.check("not started: systemctl is-active says inactive",
                 r.stdout.decode().strip() == "inactive", r.stdout.decode())


def purge(ck, user_existed):
    r = nfstest.run(["dpkg", "--purge", "nfsensor"], timeout=300)
    left = [p for p in ("/usr/sbin/nfsensord", "/etc/nfsensor", "/var/lib/nfsensor",
                        "/lib/systemd/system/nfsensord.service") if os.path.lexists(p)]
    ck.check("dpkg --purge removes it all (binary, configuration, state, units)",
             r.returncode == 0 and not left, "%s %s" % (left, nfstest.tail(r.stderr)))
    if not user_existed:
        subprocess.run(["userdel", "nfsensor"], capture_output=True)


def main():
    ck = nfstest.Checker("test_package")
    src = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else nfstest.source_dir()
    if os.geteuid() != 0:
        nfstest.skip("needs root (dpkg -i)")
    for tool in ("dpkg-buildpackage", "dh", "fakeroot", "lintian", "git", "systemctl"):
        nfstest.need_tool(tool)
    with nfstest.tempdir("package") as work:
        deb, version = build(ck, src, work)
        if deb is None:
            ck.finish()
        check_deb(ck, deb)
        lintian(ck, work)
        with open(LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "nfsensor"],
                               capture_output=True, text=True)
            if "installed" in r.stdout:
                ck.check("nfsensor is not installed already (this test installs and purges "
                         "it; a run killed midway leaves it: dpkg --purge nfsensor)", False,
                         r.stdout)
                ck.finish()
            user_existed = subprocess.run(["getent", "passwd", "nfsensor"],
                                          capture_output=True).returncode == 0
            try:
                installed(ck, deb, version, work)
            finally:
                purge(ck, user_existed)
    ck.finish()


if __name__ == "__main__":
    main()
