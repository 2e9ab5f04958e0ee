"""slipway-proxy end to end: real proxy process, real backends (Python HTTP/1.1 servers in their own
processes), raw sockets where the exact bytes matter.  Each test owns its listener port."""
import hashlib
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from proxy_util import (PROXY_BIN, Backend, Proxy, Reader, connect, free_port, get, pattern_sha256,
                        pattern_stream, request, wait_port, ws_frame)

pytestmark = pytest.mark.skipif(not os.path.exists(PROXY_BIN), reason="slipway-proxy not built")


@pytest.fixture(scope="module")
def backends():
    a, b = Backend("alpha"), Backend("beta")
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    p = Proxy(tmp_path_factory.mktemp("proxy"), "--header-timeout", "1", "--upstream-timeout", "2",
              "--access-log", "-")
    yield p
    p.stop()


def route(proxy, backend, *extra, name=None):
    port = free_port()
    proxy.route_set(name or f"r{port}", f"127.0.0.1:{port}", [backend.addr] if backend else None, *extra)
    wait_port(port)
    return port


def echo(body):
    return json.loads(body)


def hdr(doc, name):
    vals = [v for k, v in doc["headers"] if k.lower() == name.lower()]
    return vals


# ---- item 4: HTTP/1.1 behaviour ------------------------------------------------------------------

def test_forwarded_headers_and_hop_by_hop(proxy, backends):
    port = route(proxy, backends[0])
    st, h, _, body = get(port, "/echo/x?q=1", extra=b"Connection: keep-alive, X-Private\r\nX-Private: 1\r\n"
                         b"Keep-Alive: timeout=1\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\n"
                         b"X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Host: evil\r\nX-Custom: kept\r\n")
    assert st == 200
    doc = echo(body)
    assert doc["path"] == "/echo/x?q=1"
    assert hdr(doc, "X-Forwarded-For") == ["10.9.9.9, 127.0.0.1"]
    assert hdr(doc, "X-Forwarded-Proto") == ["http"]
    assert hdr(doc, "X-Forwarded-Host") == ["app.test"]
    assert hdr(doc, "Host") == ["app.test"]
    assert "1.1 slipway" in hdr(doc, "Via")
    assert hdr(doc, "X-Custom") == ["kept"]
    for gone in ("X-Private", "Keep-Alive", "TE", "Proxy-Authorization", "Connection"):
        assert hdr(doc, gone) == [], gone
    assert "slipway" in h["via"]
    # hop-by-hop headers from the upstream are removed too
    st, h, hl, _ = get(port, "/hop")
    names = [k.lower() for k, _ in hl]
    assert st == 200 and "x-secret" not in names and "keep-alive" not in names and h["x-kept"] == "yes"


def test_routing_host_path_strip_404_503(proxy, backends):
    a, b = backends
    port = free_port()
    listen = f"127.0.0.1:{port}"
    proxy.route_set(f"any{port}", listen, [a.addr])
    proxy.route_set(f"api{port}", listen, [b.addr], "--path", "/api", "--strip")
    proxy.route_set(f"wild{port}", listen, [b.addr], "--host", "*.example.com")
    proxy.route_set(f"none{port}", listen, None, "--host", "empty.test")
    wait_port(port)
    assert echo(get(port, "/x")[3])["name"] == "alpha"
    doc = echo(get(port, "/api/v1/items?z=1")[3])
    assert doc["name"] == "beta" and doc["path"] == "/v1/items?z=1"
    assert echo(get(port, "/api")[3])["path"] == "/"
    assert echo(get(port, "/apix")[3])["name"] == "alpha"
    assert echo(get(port, "/", host="a.b.example.com:80")[3])["name"] == "beta"
    st, _, _, body = get(port, "/", host="empty.test")
    assert st == 503 and b"no target" in body
    # two targets: round-robin alternates, least-conn prefers the idle one
    rr = free_port()
    proxy.route_set(f"rr{rr}", f"127.0.0.1:{rr}", [a.addr, b.addr])
    wait_port(rr)
    assert sorted(get(rr, "/id")[3] for _ in range(4)) == [b"alpha", b"alpha", b"beta", b"beta"]
    proxy.route_set(f"rr{rr}", f"127.0.0.1:{rr}", [a.addr, b.addr], "--balance", "least-conn")
    # The busy request must outlast the four below even on a loaded machine (CI once took more than 1.5 s
    # for them, and the last one then went to the target the finished request had left idle).
    busy = threading.Thread(target=lambda: get(rr, "/slow/4"))
    busy.start()
    # Probe only once the proxy holds the busy request (a loaded machine may take a while to send it).
    def busy_in_flight():
        return any(x["name"] == f"rr{rr}" and x["in_flight"] == 1 for x in proxy.stats()["routes"])
    deadline = time.monotonic() + 10
    while not busy_in_flight():
        assert time.monotonic() < deadline, "the busy request never reached the proxy"
        time.sleep(0.02)
    first = get(rr, "/id")[3]
    assert [get(rr, "/id")[3] for _ in range(3)] == [first] * 3
    busy.join()
    other = free_port()
    proxy.route_set(f"only{other}", f"127.0.0.1:{other}", [a.addr], "--host", "only.test")
    wait_port(other)
    st, h, _, body = get(other, "/", host="elsewhere.test")
    assert st == 404 and b"no route" in body and h["connection"] == "close"
    # removing the last route on a listener closes it
    proxy.cli("route", "rm", f"only{other}")
    with pytest.raises(OSError):
        for _ in range(50):
            connect(other, 1).close()
            time.sleep(0.02)


def test_keepalive_pool_and_pipelining(proxy, backends):
    port = route(proxy, backends[0])
    with connect(port) as s:
        r = Reader(s)
        peers = set()
        for i in range(5):
            s.sendall(b"GET /echo/%d HTTP/1.1\r\nHost: h\r\n\r\n" % i)
            st, h, _, body = r.response()
            assert st == 200 and echo(body)["path"] == f"/echo/{i}"
            peers.add(echo(body)["peer_port"])
        # one client connection, served by one pooled upstream connection
        assert len(peers) == 1
        # pipelined: three requests in one write, answers in order
        s.sendall(b"GET /echo/p1 HTTP/1.1\r\nHost: h\r\n\r\n"
                  b"HEAD /size/100 HTTP/1.1\r\nHost: h\r\n\r\n"
                  b"POST /echo/p3 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
        assert echo(r.response()[3])["path"] == "/echo/p1"
        st, h, _, body = r.response(head_request=True)
        assert st == 200 and h["content-length"] == "100" and body == b""
        doc = echo(r.response()[3])
        assert doc["path"] == "/echo/p3" and doc["body_len"] == 3


def test_http10_and_connection_close(proxy, backends):
    port = route(proxy, backends[0])
    with connect(port) as s:
        s.sendall(b"GET /echo/10 HTTP/1.0\r\n\r\n")
        r = Reader(s)
        st, h, _, body = r.response()
        assert st == 200 and echo(body)["path"] == "/echo/10"
        assert r.closed()
    with connect(port) as s:
        s.sendall(b"GET /echo/c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        r = Reader(s)
        st, h, _, _ = r.response()
        assert st == 200 and h["connection"] == "close"
        assert r.closed()
    # a chunked upstream body reaches an HTTP/1.0 client de-chunked, ended by the close
    with connect(port) as s:
        s.sendall(b"GET /chunked/200000 HTTP/1.0\r\n\r\n")
        st, h, _, body = Reader(s).response()
        assert st == 200 and "transfer-encoding" not in h and h["connection"] == "close"
        assert hashlib.sha256(body).hexdigest() == pattern_sha256(200000)
    # upstream body delimited by its close: passed on, then the client connection closes
    with connect(port) as s:
        s.sendall(b"GET /eof HTTP/1.1\r\nHost: h\r\n\r\n")
        st, h, _, body = Reader(s).response()
        assert st == 200 and body == b"until-eof" * 100


def test_head_204_304(proxy, backends):
    port = route(proxy, backends[0])
    with connect(port) as s:
        r = Reader(s)
        s.sendall(b"GET /status/204 HTTP/1.1\r\nHost: h\r\n\r\nGET /status/304 HTTP/1.1\r\nHost: h\r\n\r\n"
                  b"HEAD /size/5000 HTTP/1.1\r\nHost: h\r\n\r\nGET /size/7 HTTP/1.1\r\nHost: h\r\n\r\n")
        assert r.response()[0] == 204
        assert r.response()[0] == 304
        st, h, _, body = r.response(head_request=True)
        assert st == 200 and h["content-length"] == "5000"
        st, h, _, body = r.response()
        assert st == 200 and body == b"x" * 7


def test_expect_100_continue(proxy, backends):
    port = route(proxy, backends[0])
    with connect(port) as s:
        s.sendall(b"PUT /echo/e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        r = Reader(s)
        st, _, _, _ = r.response()
        assert st == 100
        s.sendall(b"hello")
        st, _, _, body = r.response()
        doc = echo(body)
        assert st == 200 and doc["body_len"] == 5 and doc["body_sha256"] == hashlib.sha256(b"hello").hexdigest()


def test_chunked_both_ways(proxy, backends):
    port = route(proxy, backends[0])
    pieces = [b"a" * 10, b"b" * 70000, b"c"]
    raw = b"POST /echo/ch HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw += b"".join(b"%x;ext=1\r\n" % len(p) + p + b"\r\n" for p in pieces) + b"0\r\nX-Trailer: t\r\n\r\n"
    st, _, _, body = request(port, raw)
    doc = echo(body)
    assert st == 200 and doc["body_len"] == 70011
    assert doc["body_sha256"] == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert hdr(doc, "Transfer-Encoding") == ["chunked"]
    st, h, _, body = get(port, "/chunked/300000")
    assert st == 200 and h["transfer-encoding"] == "chunked"
    assert hashlib.sha256(body).hexdigest() == pattern_sha256(300000)


def test_large_streams_constant_memory(proxy, backends):
    port = route(proxy, backends[0])
    size = 200 * 1024 * 1024
    rss_before = proxy.rss_kb()
    peak = [rss_before]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], proxy.rss_kb())
            time.sleep(0.05)

    t = threading.Thread(target=watch)
    t.start()
    try:
        # upload
        with connect(port, 60) as s:
            s.sendall(b"POST /echo/up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % size)
            for piece in pattern_stream(size):
                s.sendall(piece)
            st, _, _, body = Reader(s).response()
        doc = echo(body)
        assert st == 200 and doc["body_len"] == size and doc["body_sha256"] == pattern_sha256(size)
        # download, hashed as it arrives
        h = hashlib.sha256()
        with connect(port, 60) as s:
            s.sendall(b"GET /download/%d HTTP/1.1\r\nHost: h\r\n\r\n" % size)
            st, hd, _, _ = Reader(s).response(sink=h.update)
        assert st == 200 and int(hd["content-length"]) == size and h.hexdigest() == pattern_sha256(size)
    finally:
        stop.set()
        t.join()
    # 400 MB went through; the proxy's memory grew by far less than one body
    assert peak[0] - rss_before < 16 * 1024, f"RSS grew from {rss_before} kB to {peak[0]} kB"


def test_websocket_tunnel(proxy, backends):
    import websocket  # python3-websocket
    port = route(proxy, backends[0])
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", timeout=10)
    for i in range(20):
        ws.send(f"msg{i}")
        assert ws.recv() == f"alpha:msg{i}"
    big = os.urandom(300000)
    ws.send_binary(big)
    got = b""
    while len(got) < len(big):
        got += ws.recv()
    assert got == big
    ws.close()
    # raw tunnel: bytes the client sends right after its head are tunnelled too
    with connect(port) as s:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                  + ws_frame(b"early"))
        r = Reader(s)
        st, h, _, _ = r.response()
        assert st == 101 and h["upgrade"].lower() == "websocket"
        assert h["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        assert r.read(2 + len(b"alpha:early")) == b"\x81" + bytes([len(b"alpha:early")]) + b"alpha:early"


# ---- errors ------------------------------------------------------------------------------------

def test_upstream_refused_dies_and_times_out(proxy, backends):
    dead = free_port()
    port = route(proxy, None)
    proxy.route_set(f"r{port}", f"127.0.0.1:{port}", [f"127.0.0.1:{dead}"])
    st, _, _, body = get(port, "/")
    assert st == 502 and b"refused" in body
    port = route(proxy, backends[0])
    # upstream dies mid-response: the client must see a truncated body, never a complete one
    with connect(port) as s:
        s.sendall(b"GET /die HTTP/1.1\r\nHost: h\r\n\r\n")
        with pytest.raises(EOFError):
            Reader(s).response()
    # upstream closes without answering
    st, _, _, body = get(port, "/dieheaders")
    assert st == 502
    # the upstream answers before reading a large upload: the client still gets that answer
    with connect(port, 20) as s:
        s.sendall(b"POST /reject HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % (20 << 20))

        def upload():
            try:
                for piece in pattern_stream(20 << 20):
                    s.sendall(piece)
            except OSError:
                pass

        up = threading.Thread(target=upload)
        up.start()
        st, h, _, body = Reader(s).response()
        assert st == 413 and body == b"too large"
        up.join(timeout=20)
    # the upstream never answers: 504 after --upstream-timeout (2 s)
    t0 = time.time()
    st, _, _, body = get(port, "/hang", timeout=10)
    assert st == 504 and 1.5 < time.time() - t0 < 6
    # a second target takes over when the first refuses
    port2 = free_port()
    proxy.route_set(f"r{port2}", f"127.0.0.1:{port2}", [f"127.0.0.1:{dead}", backends[1].addr])
    wait_port(port2)
    for _ in range(4):
        assert get(port2, "/id")[3] == b"beta"


def test_upstream_bare_lf_response_head_is_accepted(proxy):
    """Upstreams like busybox httpd pass CGI header lines through with bare LF; nginx accepts them and so
    do we (responses only — requests stay strict, see SMUGGLING).  The client gets CRLF lines."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    heads = [b"HTTP/1.0 200 OK\nContent-Type: text/plain\nX-Cgi: yes\n\n",
             b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\nX-Cgi: yes\nConnection: close\n\r\n"]

    def serve():
        for head in heads:
            c, _ = srv.accept()
            with c:
                c.recv(65536)
                c.sendall(head + b"hello")
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    port = free_port()
    proxy.route_set(f"r{port}", f"127.0.0.1:{port}", [f"127.0.0.1:{srv.getsockname()[1]}"])
    wait_port(port)
    try:
        for _ in heads:
            with connect(port) as s:
                s.sendall(b"GET /cgi-bin/x HTTP/1.1\r\nHost: h\r\n\r\n")
                raw = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    raw += chunk
            head, _, body = raw.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\n"), raw
            assert b"\n" not in head.replace(b"\r\n", b""), head      # every line ends in CRLF
            assert b"X-Cgi: yes" in head and body == b"hello"
    finally:
        t.join(timeout=5)
        srv.close()


SMUGGLING = [
    ("cl-cl", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nGET /"),
    ("cl-conflict", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nGET /"),
    ("cl-list", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4, 4\r\n\r\nabcd"),
    ("cl-te", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("te-cl", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"),
    ("te-gzip", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"),
    ("te-gzip-chunked", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
    ("te-chunked-identity", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n"),
    ("te-twice", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ("te-space-name", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
    ("te-obs-fold", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n"),
    ("bad-chunk-size", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
    ("chunk-size-overflow", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"fffffffffffffffff1\r\nhello\r\n0\r\n\r\n"),
    ("chunk-bare-lf", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"),
    ("ctl-in-target", b"GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n"),
    ("ctl-in-name", b"GET / HTTP/1.1\r\nHost: h\r\nX\x00A: 1\r\n\r\n"),
    ("ctl-in-value", b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\x0b2\r\n\r\n"),
    ("missing-host", b"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n"),
    ("two-hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
    ("bare-lf-head", b"GET / HTTP/1.1\nHost: h\n\n\r\n\r\n"),
    ("te-http10", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
]


@pytest.fixture(scope="module")
def smuggle_port(proxy, backends):
    return route(proxy, backends[1])


@pytest.mark.parametrize("name,payload", SMUGGLING, ids=[n for n, _ in SMUGGLING])
def test_strict_parsing_rejects(proxy, backends, smuggle_port, name, payload):
    before = int(get(smuggle_port, "/count")[3])
    with connect(smuggle_port) as s:
        s.sendall(payload)
        r = Reader(s)
        st, h, _, _ = r.response()
        assert st == 400, name
        assert h["connection"] == "close"
        assert r.closed()
    # the backend never saw the rejected request (only our /count probes)
    assert int(get(smuggle_port, "/count")[3]) == before + 1


def test_head_limits_and_slow_headers(proxy, backends):
    port = route(proxy, backends[0])
    st, _, _, _ = request(port, b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    assert st == 431
    many = b"".join(b"X-%d: v\r\n" % i for i in range(200))
    assert request(port, b"GET / HTTP/1.1\r\nHost: h\r\n" + many + b"\r\n")[0] == 431
    # a client that never finishes its head gets 408 after --header-timeout (1 s)
    with connect(port) as s:
        t0 = time.time()
        s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n")
        st, h, _, _ = Reader(s).response()
        assert st == 408 and 0.8 < time.time() - t0 < 4
    assert request(port, b"GET / HTTP/2.0\r\nHost: h\r\n\r\n")[0] == 505


def test_connection_limit(tmp_path, backends):
    p = Proxy(tmp_path / "s", "--max-connections", "5", workers=1)
    try:
        port = route(p, backends[0])
        held = [connect(port) for _ in range(5)]
        time.sleep(0.2)
        with connect(port) as s:
            r = Reader(s)
            st, h, _, body = r.response()
            assert st == 503 and b"connection limit" in body and r.closed()
        held.pop().close()
        time.sleep(0.2)
        assert get(port, "/id")[0] == 200
        for s in held:
            s.close()
    finally:
        assert p.stop() == 0


# ---- control plane, persistence, lifecycle ---------------------------------------------------------

def test_cli_errors(proxy, backends):
    for args, words in [
        (["route", "set", "bad name", "--listen", "127.0.0.1:1"], "name"),
        (["route", "set", "x", "--listen", "localhost:80", "--target", backends[0].addr], "listen"),
        (["route", "set", "x", "--listen", "127.0.0.1:1", "--target", "nope"], "Target"),
        (["route", "set", "x", "--listen", "127.0.0.1:1", "--path", "api"], "path"),
        (["route", "rm", "does-not-exist"], "no route"),
    ]:
        r = proxy.cli(*args, check=False)
        assert r.returncode == 1 and words.lower() in r.stderr.lower(), (args, r.stderr)
    r = proxy.cli("route", "set", "x", check=False)
    assert r.returncode == 2 and "--listen" in r.stderr
    # a port someone else holds: refused, table unchanged
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        bport = busy.getsockname()[1]
        before = proxy.cli("route", "list", "--json").stdout
        r = proxy.route_set("busy", f"127.0.0.1:{bport}", [backends[0].addr], check=False)
        assert r.returncode == 1 and "Cannot listen" in r.stderr
        assert json.loads(proxy.cli("route", "list", "--json").stdout) == json.loads(before)
    r = subprocess.run([PROXY_BIN, "stats", "--state-dir", "/nonexistent-slipway"], capture_output=True, text=True)
    assert r.returncode == 1 and "no proxy is running" in r.stderr


def test_stats_and_access_log(proxy, backends):
    port = route(proxy, backends[0], name="statsroute")
    for _ in range(10):
        assert get(port, "/size/100")[0] == 200
    assert get(port, "/status/404")[0] == 404
    assert get(port, "/status/500")[0] == 500
    st = proxy.stats()
    r = next(x for x in st["routes"] if x["name"] == "statsroute")
    assert r["requests"] == 12 and r["status"]["2xx"] == 10 and r["status"]["4xx"] == 1
    assert r["status"]["5xx"] == 1 and r["in_flight"] == 0 and r["bytes_out"] > 1000
    assert r["latency_ms"]["p50"] > 0 and r["latency_ms"]["p99"] >= r["latency_ms"]["p50"]
    t = r["targets"][0]
    assert t["address"] == backends[0].addr and t["requests"] == 12
    human = proxy.cli("stats").stdout
    assert "statsroute" in human and backends[0].addr in human
    lines = [json.loads(l) for l in proxy.logtext().splitlines() if l.startswith("{")]
    mine = [l for l in lines if l.get("route") == "statsroute"]
    assert len(mine) == 12 and mine[0]["status"] == 200 and mine[0]["request"].startswith("GET /size/100")


def test_restart_restores_routes_and_sigterm_finishes_inflight(tmp_path, backends):
    p = Proxy(tmp_path / "s")
    port = route(p, backends[0], name="persist", *["--path", "/", "--drain-timeout", "7"])
    listing = json.loads(p.cli("route", "list", "--json").stdout)
    import stat
    assert stat.S_IMODE(os.stat(tmp_path / "s" / "proxy.sock").st_mode) == 0o600
    saved = json.load(open(tmp_path / "s" / "proxy" / "routes.json"))
    assert saved["routes"] == listing["routes"]
    # SIGTERM with a request in flight: it completes, then the proxy exits 0
    result = {}

    def slow():
        result["r"] = get(port, "/slow/1.5")

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.4)
    assert p.stop() == 0
    t.join()
    assert result["r"][0] == 200
    with pytest.raises(OSError):
        connect(port, 1)
    p.start()
    wait_port(port)
    assert json.loads(p.cli("route", "list", "--json").stdout)["routes"] == listing["routes"]
    assert get(port, "/id")[3] == b"alpha"
    assert p.stop() == 0


def test_swap_drain_cut(proxy, backends):
    a, b = backends
    port = route(proxy, a, "--drain-timeout", "1", name="cutme")
    result = {}

    def slow():
        try:
            result["r"] = get(port, "/slow/6", timeout=10)
        except Exception as e:  # the cut closes the connection
            result["e"] = e

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    t0 = time.time()
    r = proxy.route_set("cutme", f"127.0.0.1:{port}", [b.addr], "--drain-timeout", "1", "--wait-drained",
                        "--json")
    took = time.time() - t0
    doc = json.loads(r.stdout)
    assert doc["drain"] == {"in_flight": 1, "finished": 0, "cut": 1}
    assert 0.8 < took < 4
    t.join()
    assert "e" in result
    assert get(port, "/id")[3] == b"beta"
    # a quick request drains as "finished"
    t = threading.Thread(target=lambda: result.update(q=get(port, "/slow/0.5")))
    t.start()
    time.sleep(0.2)
    doc = json.loads(proxy.route_set("cutme", f"127.0.0.1:{port}", [a.addr], "--drain-timeout", "5",
                                     "--wait-drained", "--json").stdout)
    t.join()
    assert doc["drain"] == {"in_flight": 1, "finished": 1, "cut": 0} and result["q"][0] == 200


def test_replace_all(proxy, backends, tmp_path):
    p1, p2 = free_port(), free_port()
    table = {"routes": [
        {"name": "ra1", "listen": f"127.0.0.1:{p1}", "targets": [backends[0].addr]},
        {"name": "ra2", "listen": f"127.0.0.1:{p2}", "targets": [backends[1].addr], "balance": "least-conn"},
    ]}
    f = tmp_path / "routes.json"
    f.write_text(json.dumps(table))
    proxy.cli("route", "replace-all", "--file", str(f))
    wait_port(p1)
    wait_port(p2)
    assert get(p1, "/id")[3] == b"alpha" and get(p2, "/id")[3] == b"beta"
    names = [r["name"] for r in json.loads(proxy.cli("route", "list", "--json").stdout)["routes"]]
    assert names == ["ra1", "ra2"]
    f.write_text(json.dumps({"routes": [{"name": "ra1", "listen": "127.0.0.1:1", "targets": ["bad"]}]}))
    r = proxy.cli("route", "replace-all", "--file", str(f), check=False)
    assert r.returncode == 1 and "bad" in r.stderr
    assert get(p1, "/id")[3] == b"alpha"


# ---- swap under load --------------------------------------------------------------------------------

def test_swap_under_load(tmp_path, backends):
    a, b = backends
    p = Proxy(tmp_path / "s", workers=2)
    port = free_port()
    p.route_set("live", f"127.0.0.1:{port}", [a.addr], "--drain-timeout", "30")
    wait_port(port)
    stop = threading.Event()
    errors = []
    slow_done = [0]
    ws_done = [0]
    seen = set()

    def slow_client():
        import random
        while not stop.is_set():
            d = random.uniform(1, 3)
            try:
                st, _, _, body = get(port, f"/slow/{d:.2f}", timeout=15)
                if st != 200:
                    errors.append(f"slow: {st}")
                else:
                    slow_done[0] += 1
            except Exception as e:
                errors.append(f"slow: {e!r}")
            stop.wait(1.0)

    def ws_client():
        import websocket
        while not stop.is_set():
            try:
                ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", timeout=10)
                for i in range(5):
                    ws.send(f"m{i}")
                    reply = ws.recv()
                    name, _, msg = reply.partition(":")
                    if msg != f"m{i}":
                        errors.append(f"ws: bad echo {reply}")
                    seen.add(name)
                    time.sleep(0.05)
                ws.close()
                ws_done[0] += 1
            except Exception as e:
                errors.append(f"ws: {e!r}")

    threads = [threading.Thread(target=slow_client), threading.Thread(target=ws_client)]
    for t in threads:
        t.start()
    wrk = subprocess.Popen(["wrk", "-t", "2", "-c", "8", "-d", "600", "--timeout", "10",
                            f"http://127.0.0.1:{port}/id"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        swaps = []
        for i in range(100):
            target = b if i % 2 == 0 else a
            r = p.route_set("live", f"127.0.0.1:{port}", [target.addr], "--drain-timeout", "30",
                            "--wait-drained", "--json")
            d = json.loads(r.stdout)["drain"]
            assert d["cut"] == 0, d
            swaps.append(d)
            # after the reply, new requests go to the new target only
            assert get(port, "/id")[3] == target.name.encode()
            time.sleep(0.2)
    finally:
        stop.set()
        wrk.send_signal(2)
        out = wrk.communicate(timeout=30)[0]
        for t in threads:
            t.join(timeout=20)
        rc = p.stop()
    print(out)
    assert "Non-2xx" not in out, out
    assert "Socket errors" not in out, out
    total = int(out.split(" requests in")[0].split()[-1])
    assert total > 1000
    assert errors == []
    assert slow_done[0] >= 5 and ws_done[0] >= 5
    assert seen == {"alpha", "beta"}
    assert sum(d["finished"] for d in swaps) > 0
    assert rc == 0
