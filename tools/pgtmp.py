#!/usr/bin/env python3
"""pgtmp.py -- a throwaway PostgreSQL cluster on a free loopback port (stdlib only).

Used by the end-to-end tests (import it), `make demo` and the dashboard benchmark
(command line):

    python3 tools/pgtmp.py start DIR      # initdb DIR/data, pg_ctl start; prints
                                          # PGPORT=5433 and DSN=postgresql://...
    python3 tools/pgtmp.py stop DIR       # pg_ctl stop -m fast
    python3 tools/pgtmp.py start-again DIR   # restart a stopped cluster, same port

The cluster listens on 127.0.0.1 only, with its socket in DIR, trust authentication
for the loopback (it is a scratch database), fsync off, and database "herald". Debian's
server binaries live in /usr/lib/postgresql/<version>/bin (found with pg_config or a
glob). initdb refuses to run as root: as root, every server command runs as the
`postgres` system user (created by Debian's postgresql package) through runuser, and
DIR is handed to that user.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import time

START_TIMEOUT = 30.0


def bindir():
    """Where initdb, pg_ctl and postgres are."""
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(cand, "pg_ctl"), os.X_OK):
            return cand
    pgc = shutil.which("pg_config")
    if pgc:
        out = subprocess.run([pgc, "--bindir"], capture_output=True, text=True).stdout.strip()
        if out and os.access(os.path.join(out, "pg_ctl"), os.X_OK):
            return out
    raise RuntimeError("PostgreSQL server binaries not found: install postgresql "
                       "(make deps)")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _as_server_user(argv):
    """Run server commands as postgres when we are root (initdb refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + argv
    return argv


def _chown_tree(path):
    if os.geteuid() != 0:
        return
    import pwd
    pw = pwd.getpwnam("postgres")
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for f in files:
            os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid)


class TempPostgres:
    """One cluster in `base` (a directory this object may fill)."""

    def __init__(self, base, port=None):
        self.base = os.path.abspath(base)
        self.data = os.path.join(self.base, "data")
        self.sock = os.path.join(self.base, "sock")
        self.log = os.path.join(self.base, "postgres.log")
        self.bin = bindir()
        self.port = port
        pf = os.path.join(self.base, "port")
        if self.port is None and os.path.exists(pf):
            with open(pf) as f:
                self.port = int(f.read().strip())

    @property
    def dsn(self):
        return "postgresql://postgres@127.0.0.1:%d/herald?connect_timeout=5" % self.port

    def _run(self, argv, check=True, timeout=120):
        p = subprocess.run(_as_server_user(argv), capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s" % (" ".join(argv[:2]), p.returncode,
                                                         p.stdout[-2000:], p.stderr[-2000:]))
        return p

    def init(self):
        os.makedirs(self.sock, exist_ok=True)
        if os.geteuid() == 0:
            os.chmod(self.base, 0o755)
        _chown_tree(self.base)
        self._run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres",
                   "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\n"
                    "unix_socket_directories = '%s'\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "shared_buffers = 128MB\nmax_connections = 60\n"
                    "log_min_messages = warning\n" % self.sock)
        _chown_tree(self.data)

    def start(self):
        """Start the server (on a free port the first time) and wait until it answers."""
        last = None
        for _attempt in range(5):
            if self.port is None or last is not None:
                self.port = free_port()
            with open(os.path.join(self.base, "port"), "w") as f:
                f.write("%d\n" % self.port)
            p = self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log,
                           "-o", "-p %d" % self.port, "-w", "-t", str(int(START_TIMEOUT)),
                           "start"], check=False)
            if p.returncode == 0 and self._wait_ready():
                return self
            last = p.stderr or p.stdout or "not ready"
            self.stop()
        raise RuntimeError("could not start PostgreSQL: %s (log %s)" % (last, self.log))

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        isready = os.path.join(self.bin, "pg_isready")
        while time.monotonic() < deadline:
            p = subprocess.run([isready, "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                               capture_output=True)
            if p.returncode == 0:
                return True
            time.sleep(0.1)
        return False

    def create_db(self, name="herald"):
        p = self.psql("SELECT 1 FROM pg_database WHERE datname = '%s'" % name, db="postgres")
        if p.strip() != "1":
            self.psql("CREATE DATABASE %s" % name, db="postgres")

    def psql(self, sql, db="herald", check=True, timeout=120):
        """Run SQL with psql (-At: unaligned, tuples only); returns stdout."""
        psql = os.path.join(self.bin, "psql")
        if not os.access(psql, os.X_OK):
            psql = shutil.which("psql") or "psql"
        p = subprocess.run([psql, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                            "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql],
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise RuntimeError("psql: %s" % (p.stderr.strip() or p.stdout.strip()))
        return p.stdout

    def stop(self, mode="fast"):
        if not os.path.exists(os.path.join(self.data, "postmaster.pid")):
            return
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", mode, "-w",
                   "-t", "30", "stop"], check=False)

    def remove(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def start_new(base):
    """initdb + start + database herald; returns the TempPostgres."""
    pg = TempPostgres(base)
    pg.init()
    pg.start()
    pg.create_db()
    return pg


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop", "start-again"):
        sys.stderr.write(__doc__)
        return 2
    cmd, base = argv[1], argv[2]
    os.makedirs(base, exist_ok=True)
    if cmd == "start":
        pg = start_new(base)
        print("PGPORT=%d" % pg.port)
        print("DSN=%s" % pg.dsn)
    elif cmd == "start-again":
        pg = TempPostgres(base).start()
        print("PGPORT=%d" % pg.port)
    else:
        TempPostgres(base).stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
