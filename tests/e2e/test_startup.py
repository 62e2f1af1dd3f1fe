"""End-to-end: what the binaries do at start-up (issue 11 item 17).

- `--version` on every binary prints "<name> <version>", one version string shared by
  all (common/version.c, set from git describe at build time), and exits 0;
- a config with a key given twice is refused, naming both lines, by the consumer's
  --check-config, the consumer itself, the producer (-c) and heraldctl (-c);
- a `*_file` secret that is a FIFO (or a directory) is refused at start-up at once
  with an error naming it, where the old code waited forever for a writer.

These need no servers: each binary must fail before it would connect to anything.

Run from the repository root:
    HERALD_BIN=bin python3 -m unittest tests/e2e/test_startup.py -v
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

BINARIES = ("herald-producer", "herald-consumer", "heraldctl", "herald-devbroker",
            "herald-slackd")
LIMIT = 10.0  # seconds: a start-up check that takes longer is a hang

GOOD = """kafka:
  brokers: 127.0.0.1:1
redis:
  host: 127.0.0.1
  port: 1
receivers:
  - name: ci
    url: http://127.0.0.1:1/hook
"""


def run(argv, timeout=LIMIT):
    """Run argv to completion; (rc, stdout, stderr). A hang is a test failure."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise AssertionError("%s did not finish in %.0f s (hung)" % (" ".join(argv), timeout))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8",
                                                                               "replace")


class VersionTest(unittest.TestCase):

    def test_every_binary_has_version(self):
        versions = {}
        for name in BINARIES:
            rc, out, err = run([harness.binary(name), "--version"])
            self.assertEqual(rc, 0, "%s --version: exit %d\n%s" % (name, rc, err))
            m = re.fullmatch(r"(\S+) ([A-Za-z0-9._+-]+)\n", out)
            self.assertIsNotNone(m, "%s --version printed %r" % (name, out))
            self.assertEqual(m.group(1), name)
            versions[name] = m.group(2)
        self.assertEqual(len(set(versions.values())), 1,
                         "one version string for every binary: %s" % versions)
        version = next(iter(versions.values()))
        print("\n  version: %s" % version)
        # Built from this checkout with git: the version is what git describes.
        git = shutil.which("git")
        same_tree = os.path.realpath(harness.BIN) == os.path.realpath(
            os.path.join(harness.REPO, "bin"))
        if git and same_tree and os.path.exists(os.path.join(harness.REPO, ".git")):
            described = subprocess.run([git, "describe", "--tags", "--always"],
                                       cwd=harness.REPO, capture_output=True, text=True)
            if described.returncode == 0:
                self.assertTrue(version.startswith(described.stdout.strip()),
                                (version, described.stdout))


class ConfigAtStartupTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="herald-startup-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assert_refused(self, argv, *needles):
        rc, out, err = run(argv)
        self.assertNotEqual(rc, 0, "%s was accepted:\n%s%s" % (" ".join(argv), out, err))
        for n in needles:
            self.assertIn(n, err, "%s: the error should say %r:\n%s" % (argv[0], n, err))
        return err

    def test_duplicate_keys_refused_everywhere(self):
        cfg = self.write("dup.yaml", GOOD.replace(
            "    url: http://127.0.0.1:1/hook\n",
            "    url: http://127.0.0.1:1/hook\n    channel: '#a'\n    channel: '#b'\n"))
        want = 'duplicate key "channel": given at lines 9 and 10'
        consumer = harness.binary("herald-consumer")
        self.assert_refused([consumer, "--check-config", cfg], want)
        self.assert_refused([consumer, "-c", cfg], want)
        self.assert_refused([harness.binary("herald-producer"), "-c", cfg, "/dev/null"], want)
        self.assert_refused([harness.binary("heraldctl"), "-c", cfg, "silence", "list"], want)
        # and the same file without the duplicate passes the check
        good = self.write("good.yaml", GOOD)
        rc, out, err = run([consumer, "--check-config", good])
        self.assertEqual(rc, 0, err)

    def test_fifo_secret_refused_at_once(self):
        fifo = os.path.join(self.dir, "slack-url")
        os.mkfifo(fifo)
        cfg = self.write("fifo.yaml", GOOD.replace("    url: http://127.0.0.1:1/hook\n",
                                                   "    url_file: %s\n" % fifo))
        consumer = harness.binary("herald-consumer")
        for argv in ([consumer, "-c", cfg], [consumer, "--check-config", cfg]):
            err = self.assert_refused(argv, fifo, "not a regular file (a FIFO)",
                                      "receivers[ci].url_file")
            self.assertIn(":8:", err)
        # the Redis password heraldctl reads goes through the same check
        pw = self.write("pw.yaml", GOOD.replace("  port: 1\n",
                                                "  port: 1\n  password_file: %s\n" % self.dir))
        self.assert_refused([harness.binary("heraldctl"), "-c", pw, "silence", "list"],
                            "redis.password_file", "not a regular file (a directory)")


if __name__ == "__main__":
    unittest.main()
