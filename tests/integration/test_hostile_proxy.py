"""slipway-proxy at its descriptor limit (issue 10, case 4): a hostile client holds more half-sent request
heads than the proxy has descriptors for.  The proxy must not spin, must keep answering normal clients
(200, or 503 and close: never a hang), must say so in its log once per interval, and must serve fully
again once the hostile clients are gone.  The proxy runs with a small open-files limit (256) so that
"more than fit" is a few hundred sockets."""
import json
import os
import re
import socket
import time

import pytest

from proxy_util import PROXY_BIN, Backend, Proxy, Reader, connect, free_port, get, wait_port

pytestmark = pytest.mark.skipif(not os.path.exists(PROXY_BIN), reason="slipway-proxy not built")

NOFILE = 256
HALF_HEAD = b"GET /id HTTP/1.1\r\nHost: app.test\r\nX-Slow: "
LIMIT_RE = re.compile(r"At the connection limit \((\d+) per worker\)")
FD_RE = re.compile(r"Out of file descriptors")
# a spinning proxy burns about one CPU second per second and worker; a waiting one next to nothing
CPU_SHARE_MAX = 0.15


@pytest.fixture(scope="module")
def backend():
    b = Backend("fast")
    yield b
    b.stop()


class Holder:
    """Opens up to n connections that each send a request head and never finish it; keeps those the
    proxy does not close."""

    def __init__(self, port, n):
        self.port = port
        self.socks = []
        self.refused = 0
        for _ in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(HALF_HEAD)
                self.socks.append(s)
            except OSError:
                self.refused += 1

    def alive(self):
        """Closes and forgets the sockets the proxy closed (EOF, reset or a refusal waiting)."""
        keep = []
        for s in self.socks:
            s.setblocking(False)
            try:
                data = s.recv(4096)
                gone = True  # an answer (503/408) or EOF: the proxy let go of it
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                s.close()
                self.refused += 1
            else:
                s.setblocking(True)
                keep.append(s)
        self.socks = keep
        return len(keep)

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


def normal_request(port, timeout=5):
    """A normal client: a 200, or a 503 with the connection closed; anything else (a hang, a timeout, a
    reset without an answer) fails the test."""
    with connect(port, timeout) as s:
        s.sendall(b"GET /id HTTP/1.1\r\nHost: app.test\r\n\r\n")
        r = Reader(s)
        st, _, _, body = r.response()
        if st == 503:
            assert r.closed(), "a 503 must close the connection"
        else:
            assert st == 200 and body == b"fast", (st, body)
        return st


def cpu_share(proxy, seconds, during=None):
    c0, t0 = proxy.cpu_seconds(), time.time()
    end = t0 + seconds
    while time.time() < end:
        if during:
            during()
        time.sleep(0.25)
    return (proxy.cpu_seconds() - c0) / (time.time() - t0)


def start(tmp_path, backend, *args):
    # a soft limit below the hard one: the proxy raises it itself
    p = Proxy(tmp_path / "s", "--header-timeout", "30", *args, workers=2, nofile=(64, NOFILE))
    port = free_port()
    p.route_set("app", f"127.0.0.1:{port}", [backend.addr])
    wait_port(port)
    return p, port


def per_worker_limit(p):
    """The connection limit per worker and the open-files limit the proxy says it runs with."""
    deadline = time.time() + 5
    while True:
        m = re.search(r"up to (\d+) connections each \(open-files limit (\d+)\)", p.logtext())
        if m or time.time() > deadline:
            break
        time.sleep(0.05)
    assert m, p.logtext()
    return int(m.group(1)), int(m.group(2))


def service_is_back(port, limit):
    # sequential requests, then as many keep-alive clients at once as the limit allows
    for _ in range(20):
        assert get(port, "/id", timeout=5)[0] == 200
    socks = [connect(port, 5) for _ in range(limit)]
    try:
        for s in socks:
            s.sendall(b"GET /id HTTP/1.1\r\nHost: app.test\r\n\r\n")
        for s in socks:
            assert Reader(s).response()[0] == 200
    finally:
        for s in socks:
            s.close()


def test_half_sent_heads_beyond_the_descriptor_limit(tmp_path, backend):
    p, port = start(tmp_path, backend)
    holders = []
    try:
        holder = Holder(port, 3 * NOFILE)
        holders.append(holder)
        time.sleep(0.5)
        # held at the limit: the proxy waits instead of spinning, and still answers
        assert cpu_share(p, 3) < CPU_SHARE_MAX
        assert normal_request(port) in (200, 503)

        limit, nofile = per_worker_limit(p)
        assert nofile == NOFILE  # raised from the soft 64 to the hard limit
        assert 2 * (2 * limit) < NOFILE  # every client connection keeps room for its upstream
        assert holder.alive() > limit  # the proxy holds as many as it may, on both workers
        assert p.n_fds() < NOFILE

        # ... and normal clients are answered: connections that only wait make room for those with a
        # request (the holder's are over a second old by now)
        t0 = time.time()
        statuses = []
        for _ in range(30):
            statuses.append(normal_request(port))
        assert time.time() - t0 < 10
        assert statuses.count(200) >= 27, statuses
        # the holder tops its connections up again: still no spinning, still answers
        holder.alive()
        holder.socks += Holder(port, 3 * NOFILE - len(holder.socks)).socks
        assert cpu_share(p, 2, during=holder.alive) < CPU_SHARE_MAX
        assert holder.alive() > limit
        assert all(normal_request(port) in (200, 503) for _ in range(10))

        # the log says so, once per interval (10 s), with counts
        log = p.logtext()
        lines = [l for l in log.splitlines() if LIMIT_RE.search(l)]
        elapsed = time.time() - t0 + 4
        assert 1 <= len(lines) <= 1 + elapsed // 10 + 1, log
        assert int(LIMIT_RE.search(lines[0]).group(1)) == limit
        assert "refused" in lines[0] and "closed" in lines[0]

        holder.close()
        time.sleep(0.5)
        service_is_back(port, limit)
        # nothing leaks: lingering answers close within 2 s, idle upstream connections within 4 s
        deadline = time.time() + 8
        while p.n_fds() > 40 and time.time() < deadline:
            time.sleep(0.2)
        assert p.n_fds() <= 40
    finally:
        for h in holders:
            h.close()
        assert p.stop() == 0


def test_slow_heads_at_the_limit_time_out(tmp_path, backend):
    """A client that holds a slot with a half-sent head is let go at --header-timeout, also when the
    proxy is full; the clients queued behind get their turn and the same deadline."""
    p = Proxy(tmp_path / "s", "--header-timeout", "2", workers=2, nofile=(NOFILE, NOFILE))
    try:
        port = free_port()
        p.route_set("app", f"127.0.0.1:{port}", [backend.addr])
        wait_port(port)
        limit, _ = per_worker_limit(p)
        holder = Holder(port, limit)  # fits: none is refused, none is evicted by a newcomer
        time.sleep(0.3)
        assert holder.alive() == limit
        t0 = time.time()
        deadline = t0 + 2 + 2
        while holder.alive() and time.time() < deadline:
            time.sleep(0.1)
        assert holder.alive() == 0, f"{len(holder.socks)} half-sent heads outlived --header-timeout"
        assert 1.5 < time.time() - t0
        assert normal_request(port) == 200
    finally:
        assert p.stop() == 0


def test_out_of_descriptors_pauses_accepting(tmp_path, backend):
    """Routes on many ports use up the descriptors the limit does not count, so accept4 itself fails
    with EMFILE: the proxy pauses that listener (no spinning), says so in the log once per interval, and
    still answers normal clients by closing a connection that only waits."""
    p, port = start(tmp_path, backend)
    extra, holder = [], None
    try:
        limit, _ = per_worker_limit(p)
        # each listening port costs one descriptor per worker
        routes = [{"name": "app", "listen": f"127.0.0.1:{port}", "targets": [backend.addr]}]
        for i in range(90):
            q = free_port()
            extra.append(q)
            routes.append({"name": f"extra{i}", "listen": f"127.0.0.1:{q}", "targets": [backend.addr]})
        f = tmp_path / "routes.json"
        f.write_text(json.dumps({"routes": routes}))
        p.cli("route", "replace-all", "--file", str(f))
        holder = Holder(port, 2 * NOFILE)
        # the backlog drains (answered, or taken in by closing older waiting connections) with the
        # listener paused between tries, not spinning
        c0, t0 = p.cpu_seconds(), time.time()
        last, stable_since = None, time.time()
        while time.time() - stable_since < 3 and time.time() - t0 < 25:
            n = holder.alive()
            if n != last:
                last, stable_since = n, time.time()
            time.sleep(0.1)
        assert (p.cpu_seconds() - c0) / (time.time() - t0) < CPU_SHARE_MAX
        assert p.n_fds() >= NOFILE - 4  # descriptors ran out before the connection limit
        assert last > 0
        assert cpu_share(p, 2, during=holder.alive) < CPU_SHARE_MAX
        statuses = [normal_request(port) for _ in range(10)]
        assert statuses.count(200) >= 8, statuses
        log = p.logtext()
        lines = [l for l in log.splitlines() if FD_RE.search(l)]
        assert 1 <= len(lines) <= 2, log
        assert "LimitNOFILE" in lines[0]
        holder.close()
        time.sleep(0.5)
        for _ in range(20):
            assert get(port, "/id", timeout=5)[0] == 200
    finally:
        if holder:
            holder.close()
        assert p.stop() == 0


def test_max_connections_larger_than_fits_is_lowered(tmp_path, backend):
    p = Proxy(tmp_path / "s", "--max-connections", "20000", workers=2, nofile=(NOFILE, NOFILE))
    try:
        limit, _ = per_worker_limit(p)
        assert limit < 100
        log = p.logtext()
        lowered = [l for l in log.splitlines() if "--max-connections 20000 does not fit" in l]
        assert len(lowered) == 1 and f"using {limit} per worker" in lowered[0], log
    finally:
        assert p.stop() == 0
