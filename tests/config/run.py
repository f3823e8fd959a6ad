#!/usr/bin/python3
"""
run.py NFSENSORD SOURCE_DIR PLUGIN.so... [--update]

The configuration's golden tests, table-driven: every tests/config/NN-what.yaml is checked with
  nfsensord --check-config -v --config NN-what.yaml [ARGS]
(ARGS from a first line "# args: ..."), in a scratch directory holding the test plugins as
plugins/*.so, and its stdout, stderr and exit code must equal NN-what.expected. "@BUILTIN@" in
an expected file stands for the built-in plugins (they come and go as plugins are written).
Besides:
 - an error case exits 78, every error line starts FILE:LINE:COLUMN: (or --option:), and the
   last line counts them;
 - a passing case's output (the canonical configuration) re-parses to itself;
 - every conf/*.yaml passes and re-parses to itself, and conf/nfsensor.yaml has every key of
   the schema (the rows of `nfsensord --config-reference`; a key of a list entry may be in a
   commented-out example entry);
 - docs/config.md holds the reference nfsensord prints, between its BEGIN/END markers.
--update rewrites the expected files and the docs block from the current output.
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml

BEGIN = "<!-- BEGIN nfsensord --config-reference -->\n"
END = "<!-- END nfsensord --config-reference -->\n"


class Run:
    def __init__(self, daemon, src, plugins, update):
        self.daemon, self.src, self.plugins, self.update = daemon, src, plugins, update
        self.passed = self.failed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL %s%s" % (what, "\n" + detail if detail else ""))

    def nfsensord(self, args, cwd):
        r = subprocess.run([self.daemon] + args, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        return r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace"), r.returncode

    def builtins(self):
        out, _, _ = self.nfsensord(["--list-plugins"], self.src)
        names = [line.split(":")[0] for line in out.splitlines()
                 if line and not line[0].isspace()]
        return ", ".join(names) if names else "none built in"

    def reparses(self, label, text, cwd):
        """The canonical output, loaded again, prints the same."""
        path = os.path.join(cwd, "reparse.yaml")
        with open(path, "w") as f:
            f.write(text)
        out, err, rc = self.nfsensord(["--check-config", "-v", "--config", path], cwd)
        self.check("%s: canonical output re-parses to itself" % label, rc == 0 and out == text,
                   "exit %d\n%s%s" % (rc, err, diff(text, out)))

    def case(self, yaml_path, scratch, builtin):
        name = os.path.basename(yaml_path)
        expected_path = yaml_path[:-5] + ".expected"
        first = open(yaml_path, encoding="utf-8", errors="replace").readline()
        args = shlex.split(first[len("# args:"):]) if first.startswith("# args:") else []
        out, err, rc = self.nfsensord(["--check-config", "-v", "--config", name] + args, scratch)
        got = out + err + "exit %d\n" % rc
        if self.update:
            with open(expected_path, "w") as f:
                f.write(got.replace("(known: " + builtin, "(known: @BUILTIN@"))
        try:
            want = open(expected_path).read().replace("@BUILTIN@", builtin)
        except OSError:
            want = "(no %s)\n" % os.path.basename(expected_path)
        self.check("%s: output as expected" % name, got == want, diff(want, got))
        if rc == 0:
            self.reparses(name, out, scratch)
            return
        lines = err.splitlines()
        self.check("%s: exit code 78" % name, rc == 78, "exit %d" % rc)
        bad = [l for l in lines[:-1]
               if not re.match(r"^[^:\s]+\.yaml:(\d+:\d+| cannot read): ", l)
               and not l.startswith("--")]
        self.check("%s: every error names FILE:LINE:COLUMN" % name, lines and not bad,
                   "\n".join(bad))
        self.check("%s: the last line counts the errors" % name,
                   lines and re.match(r"^nfsensord: %d errors? in configuration, nothing started$"
                                      % (len(lines) - 1), lines[-1]),
                   lines[-1] if lines else "(no stderr)")

    def cases(self):
        builtin = self.builtins()
        scratch = tempfile.mkdtemp(prefix="nfsensor-config.")
        try:
            os.mkdir(os.path.join(scratch, "plugins"))
            for so in self.plugins:
                dst = os.path.join(scratch, "plugins", os.path.basename(so))
                shutil.copyfile(so, dst)
                os.chmod(dst, 0o755)
            tests = sorted(glob.glob(os.path.join(self.src, "tests", "config", "[0-9]*.yaml")))
            for t in tests:
                shutil.copyfile(t, os.path.join(scratch, os.path.basename(t)))
            for t in tests:
                self.case(t, scratch, builtin)
        finally:
            shutil.rmtree(scratch)

    def shipped(self):
        keys = self.reference_keys()
        for path in sorted(glob.glob(os.path.join(self.src, "conf", "*.yaml"))):
            label = os.path.relpath(path, self.src)
            out, err, rc = self.nfsensord(["--check-config", "-v", "--config", path], self.src)
            self.check("%s: passes --check-config" % label, rc == 0, err)
            if rc == 0:
                with tempfile.TemporaryDirectory() as d:
                    self.reparses(label, out, d)
            if os.path.basename(path) == "nfsensor.yaml":
                with open(path) as f:
                    text = f.read()
                present = key_paths(yaml.safe_load(text))
                # A list entry's key may be shown in a commented-out example entry instead.
                missing = [k for k in keys if k not in present and not
                           ("[]" in k and re.search(r"\b%s:" % k.split(".")[-1], text))]
                self.check("%s: has every key of the schema" % label, not missing,
                           "missing: " + ", ".join(missing))

    def reference_keys(self):
        out, _, _ = self.nfsensord(["--config-reference"], self.src)
        return re.findall(r"^\| `([^`]+)` \|", out, flags=re.M)

    def docs(self):
        path = os.path.join(self.src, "docs", "config.md")
        out, _, _ = self.nfsensord(["--config-reference"], self.src)
        text = open(path).read() if os.path.exists(path) else ""
        if BEGIN not in text or END not in text:
            self.check("docs/config.md has the reference markers", False)
            return
        head, rest = text.split(BEGIN, 1)
        block, tail = rest.split(END, 1)
        if self.update and block != out:
            with open(path, "w") as f:
                f.write(head + BEGIN + out + END + tail)
            block = out
        self.check("docs/config.md holds nfsensord --config-reference", block == out,
                   diff(block, out))


def key_paths(node, prefix=""):
    """Dotted key paths of a YAML value, list elements as "list[].key"."""
    paths = set()
    if isinstance(node, dict):
        for k, v in node.items():
            p = "%s.%s" % (prefix, k) if prefix else str(k)
            paths.add(p)
            paths |= key_paths(v, p)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict):
                paths |= key_paths(item, prefix + "[]")
    return paths


def diff(want, got):
    import difflib
    return "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                        "expected", "got"))


def main():
    argv = [a for a in sys.argv[1:] if a != "--update"]
    if len(argv) < 2:
        print(__doc__)
        return 2
    r = Run(os.path.abspath(argv[0]), os.path.abspath(argv[1]),
            [os.path.abspath(p) for p in argv[2:]], "--update" in sys.argv)
    r.cases()
    r.shipped()
    r.docs()
    print("%d passed, %d failed" % (r.passed, r.failed))
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
