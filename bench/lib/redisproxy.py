"""redisproxy.py -- count round trips between a client and Redis.

A TCP proxy on a free loopback port in front of redis-server. It parses both RESP
streams just enough to count top-level messages: commands sent and replies returned.
A ROUND TRIP starts when the client sends a command while every command it sent
before has been answered, i.e. the client had to wait for Redis before it could go on
(a pipeline of 400 commands is one round trip; a command sent after reading a reply to
decide what to send next is another). Commands inside a Lua script are not on the
wire and are not counted here (INFO commandstats counts them).

Used by the redis_rt scenario (scenarios.py): Herald's consumer points at the proxy.
"""

import selectors
import socket
import threading

from benchlib import HarnessError


class RespCounter:
    """Counts complete top-level RESP messages in a byte stream fed in pieces."""

    def __init__(self):
        self.buf = b""
        self.count = 0

    def feed(self, data):
        self.buf += data
        pos = 0
        while True:
            end = self._skip(self.buf, pos)
            if end is None:
                break
            pos = end
            self.count += 1
        self.buf = self.buf[pos:]
        return self.count

    def _skip(self, b, pos):
        """End of the message at pos, or None if it is not complete yet."""
        nl = b.find(b"\r\n", pos)
        if nl < 0:
            return None
        t = b[pos:pos + 1]
        if t in (b"+", b"-", b":", b",", b"_", b"#", b"(") or t not in b"$*%~>!=|":
            return nl + 2
        n = int(b[pos + 1:nl])
        if t in (b"$", b"!", b"="):
            if n < 0:
                return nl + 2
            end = nl + 2 + n + 2
            return end if end <= len(b) else None
        if n < 0:
            return nl + 2
        if t == b"%":
            n *= 2
        p = nl + 2
        for _ in range(n):
            p = self._skip(b, p)
            if p is None:
                return None
        return p


class RedisProxy:
    """A counting proxy to (host, port); one thread, any number of connections."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.setblocking(False)
        self.host, self.port = self.lsock.getsockname()
        self.lock = threading.Lock()
        self.commands = 0
        self.replies = 0
        self.round_trips = 0
        self._stop = False
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.lsock, selectors.EVENT_READ, None)
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def counts(self):
        with self.lock:
            return {"commands": self.commands, "replies": self.replies,
                    "round_trips": self.round_trips}

    def _loop(self):
        while not self._stop:
            for key, _ev in self._sel.select(timeout=0.2):
                if key.data is None:
                    self._accept()
                else:
                    self._pump(key.fileobj, key.data)

    def _accept(self):
        try:
            c, _ = self.lsock.accept()
        except BlockingIOError:
            return
        s = socket.create_connection(self.target, timeout=5)
        for x in (c, s):
            x.setblocking(False)
            x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        st = {"c": c, "s": s, "req": RespCounter(), "rep": RespCounter(), "out": 0}
        self._sel.register(c, selectors.EVENT_READ, ("c", st))
        self._sel.register(s, selectors.EVENT_READ, ("s", st))

    def _close(self, st):
        for k in ("c", "s"):
            try:
                self._sel.unregister(st[k])
            except (KeyError, ValueError):
                pass
            st[k].close()

    def _pump(self, sock, data):
        side, st = data
        try:
            chunk = sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._close(st)
            return
        other = st["s"] if side == "c" else st["c"]
        with self.lock:
            if side == "c":
                before = st["req"].count
                # Complete commands before this chunk vs. replies received so far: a
                # command that starts while nothing is outstanding opens a round trip.
                if before == st["rep"].count and not st["req"].buf:
                    self.round_trips += 1
                st["req"].feed(chunk)
                self.commands += st["req"].count - before
            else:
                before = st["rep"].count
                st["rep"].feed(chunk)
                self.replies += st["rep"].count - before
        try:
            other.setblocking(True)
            other.sendall(chunk)
            other.setblocking(False)
        except OSError:
            self._close(st)

    def close(self):
        self._stop = True
        self._t.join(timeout=5)
        for key in list(self._sel.get_map().values()):
            try:
                key.fileobj.close()
            except OSError:
                pass
        self._sel.close()


def check_counter():
    """A self-check of the RESP counter (run by the scenario before it measures)."""
    c = RespCounter()
    msgs = [b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"+OK\r\n", b"$-1\r\n",
            b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n$0\r\n\r\n-ERR x\r\n", b"%1\r\n+a\r\n:2\r\n"]
    data = b"".join(msgs)
    for i in range(len(data)):
        c.feed(data[i:i + 1])
    if c.count != len(msgs) or c.buf:
        raise HarnessError("RESP counter self-check: %d of %d" % (c.count, len(msgs)))
