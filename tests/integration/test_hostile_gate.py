"""The API cannot be held by idle or slow clients (issue 10, Why 3 and 10), driven as a hostile client
would: raw sockets that connect and say nothing, send a head a byte a second, or stall in a body; then
`slipway status` must still answer at once, and the gate must close them after its head deadline.  Also
duplicate or conflicting Content-Length (400 with a sentence) and an absolute-form request line (an
answer, not a silent close)."""
import json
import os
import socket
import subprocess
import threading
import time

from test_model_releases import add_instance, add_release, db, ids, shop_web

HEAD_DEADLINE = 5  # GATE_HEAD_TIMEOUT_SEC
BODY_DEADLINE = 10  # GATE_BODY_TIMEOUT_SEC
PROMPT = 2.0  # what "answers promptly" means here: not a tight timing
GATE_CONNECTIONS_MAX = 4096


def connect(d):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s


def read_all(s, timeout=10):
        s.settimeout(timeout)
        data = b""
        try:
                while True:
                        b = s.recv(65536)
                        if not b:
                                break
                        data += b
        except ConnectionResetError:
                pass
        return data


def raw(d, request, timeout=10):
        """Sends request bytes on a fresh connection; returns (status, JSON body or None, raw answer)."""
        with connect(d) as s:
                s.sendall(request)
                data = read_all(s, timeout)
        if not data:
                return None, None, data
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        try:
                doc = json.loads(body)
        except ValueError:
                doc = None
        return status, doc, data


def timed_status(d):
        """`slipway status` as a user runs it; its wall time (seconds)."""
        start = time.monotonic()
        try:
                d.cli("status", timeout=30)
        except subprocess.TimeoutExpired:
                raise AssertionError("`slipway status` did not answer within 30 s")
        return time.monotonic() - start


def closed_by_gate(s, wait):
        """True when the gate answered 408 and/or closed the connection within wait seconds."""
        data = read_all(s, wait)
        return data == b"" or data.startswith(b"HTTP/1.1 408")


class Slowloris:
        """Connections that send a request head one byte a second, never finishing it in time."""

        def __init__(self, d, n):
                self.socks = [connect(d) for _ in range(n)]
                self.stop = threading.Event()
                self.head = f"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: {'a' * 64}\r\n".encode()
                self.thread = threading.Thread(target=self.run, daemon=True)
                self.thread.start()

        def run(self):
                for i in range(len(self.head)):
                        if self.stop.wait(1.0):
                                return
                        for s in self.socks:
                                try:
                                        s.send(self.head[i:i + 1])
                                except OSError:
                                        pass

        def close(self):
                self.stop.set()
                self.thread.join()
                for s in self.socks:
                        s.close()


def test_idle_and_slow_connections_do_not_hold_the_api(daemon):
        d = daemon
        timed_status(d)  # warm: the first CLI run pays for loading

        # 8 idle connections were enough to take every civetweb thread for 60 s.
        idle = [connect(d) for _ in range(8)]
        time.sleep(0.3)
        took = timed_status(d)
        assert took < PROMPT, f"`slipway status` took {took:.1f} s with 8 idle connections open"

        # 1,000 idle ones and some slowloris ones: still prompt, and an authenticated raw request too.
        idle += [connect(d) for _ in range(992)]
        slow = Slowloris(d, 16)
        try:
                time.sleep(1.5)
                for _ in range(3):
                        took = timed_status(d)
                        assert took < PROMPT, f"`slipway status` took {took:.1f} s with 1,000 idle connections open"
                start = time.monotonic()
                status, doc, _ = raw(d, f"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {d.token}"
                                     "\r\nConnection: close\r\n\r\n".encode())
                assert status == 200 and doc["daemon"]["pid"] == d.pid
                assert time.monotonic() - start < PROMPT
                # An unauthenticated request is answered by the gate itself, just as promptly.
                status, doc, _ = raw(d, b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
                assert status == 401 and "token" in doc["error"] and doc["hint"]

                # The head deadline closes them all (408 or a close), slowloris ones included.
                time.sleep(HEAD_DEADLINE + 1)
                still_open = [s for s in idle + slow.socks if not closed_by_gate(s, 3)]
                assert not still_open, f"{len(still_open)} connections were not closed after the head deadline"
        finally:
                slow.close()
                for s in idle:
                        s.close()
        took = timed_status(d)
        assert took < PROMPT
        # One summary line per interval, never a line per connection.
        assert d.log().count("API gate") <= 2, d.log()[-3000:]


def test_stalled_bodies_do_not_hold_the_api(daemon):
        """Authenticated clients that stop in the middle of a small body: buffered by the gate, so no
        civetweb thread waits for them, and answered 408 after the body deadline."""
        d = daemon
        stalled = []
        for i in range(10):
                s = connect(d)
                s.sendall(f"POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {d.token}\r\n"
                          f"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":".encode())
                stalled.append(s)
        try:
                time.sleep(0.5)
                took = timed_status(d)
                assert took < PROMPT, f"`slipway status` took {took:.1f} s with 10 stalled bodies open"
                for s in stalled:
                        data = read_all(s, BODY_DEADLINE + 5)
                        assert data.startswith(b"HTTP/1.1 408"), data[:200]
                        assert b"body" in data
        finally:
                for s in stalled:
                        s.close()
        assert d.cli("project", "list")["projects"] == []


def test_duplicate_or_conflicting_content_length_is_400(daemon):
        d = daemon
        auth = f"Authorization: Bearer {d.token}\r\n"
        body = b'{"name":"dup"}'
        cases = [
                f"Content-Length: 5\r\nContent-Length: {len(body)}\r\n",
                f"Content-Length: {len(body)}\r\nContent-Length: {len(body)}\r\n",
                f"Content-Length: 5, {len(body)}\r\n",
                f"Content-Length: {len(body)}\r\nTransfer-Encoding: chunked\r\n",
        ]
        for framing in cases:
                req = (f"POST /api/v1/projects HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
                       f"{framing}\r\n").encode() + body
                status, doc, data = raw(d, req)
                assert status == 400, (framing, data[:300])
                assert "Content-Length" in doc["error"] and doc["hint"], doc
        # Nothing was half-done: no project came of any of them.
        assert d.cli("project", "list")["projects"] == []
        # One length is fine.
        req = (f"POST /api/v1/projects HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        status, doc, data = raw(d, req)
        assert status in (200, 201), data[:300]


def test_absolute_form_request_gets_an_answer(daemon):
        d = daemon
        target = f"http://127.0.0.1:{d.port}/api/v1/status"
        status, doc, data = raw(d, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\n"
                                f"Authorization: Bearer {d.token}\r\n\r\n".encode())
        assert status == 200, data[:300]
        assert doc["daemon"]["pid"] == d.pid
        status, doc, data = raw(d, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\n\r\n".encode())
        assert status == 401 and doc["error"]
        status, doc, data = raw(d, f"GET http://127.0.0.1:{d.port} HTTP/1.1\r\nHost: x\r\n"
                                f"Authorization: Bearer {d.token}\r\n\r\n".encode())
        assert status == 400 and "path" in doc["error"]


def test_bare_lf_request_is_refused_at_once(daemon):
        """A head whose lines end in a bare LF (hand-typed with printf | nc) is refused with 400 at once, not
        held until the head deadline and then answered 408; and nothing behind it runs."""
        d = daemon
        start = time.monotonic()
        status, doc, data = raw(d, f"POST /api/v1/projects HTTP/1.1\nHost: x\nAuthorization: Bearer {d.token}\n"
                                f"Content-Length: 14\n\n{{\"name\":\"lf\"}}".encode())
        assert status == 400, data[:300]
        assert doc["error"] and doc["hint"], doc
        assert time.monotonic() - start < HEAD_DEADLINE / 2
        assert d.cli("project", "list")["projects"] == []


def test_past_the_connection_cap_new_ones_get_503(daemon):
        d = daemon
        held = []
        try:
                for _ in range(GATE_CONNECTIONS_MAX):
                        held.append(connect(d))
                time.sleep(0.5)
                status, doc, data = raw(d, f"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n"
                                        f"Authorization: Bearer {d.token}\r\n\r\n".encode())
                assert status == 503, data[:300]
                assert "connections" in doc["error"] and doc["hint"]
        finally:
                for s in held:
                        s.close()
        # Once they are gone the API serves again.
        deadline = time.monotonic() + 5
        while True:
                status, doc, _ = raw(d, f"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n"
                                     f"Authorization: Bearer {d.token}\r\n\r\n".encode())
                if status == 200 or time.monotonic() > deadline:
                        break
                time.sleep(0.2)
        assert status == 200


def test_log_follow_outlives_the_gate_deadlines(daemon, tmp_path):
        """A streamed answer is never timed by the gate: a follow stays open past the head and body
        deadlines and still delivers what the instance writes later."""
        d = daemon
        inst_dir = shop_web(d, tmp_path)
        out_log = inst_dir / "stdout.log"
        out_log.write_text("before\n")
        with db(d) as con:
                comp, dev = ids(con, "shop", "web", "development")
                add_instance(con, add_release(con, comp, dev, "sha256:" + "a" * 64, "live"), inst_dir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        p = subprocess.Popen(d.cli_argv("logs", "shop/web", "development", "--follow", "--lines", "1", json=False),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
                assert p.stdout.readline() == "before\n"
                time.sleep(HEAD_DEADLINE + BODY_DEADLINE + 1)
                assert p.poll() is None, p.stderr.read()
                with open(out_log, "a") as f:
                        f.write("much later\n")
                assert p.stdout.readline() == "much later\n"
        finally:
                p.kill()
                p.wait()


def test_sigterm_with_many_connections_open_stops_promptly(daemon):
        d = daemon
        idle = [connect(d) for _ in range(1000)]
        try:
                start = time.monotonic()
                d.stop()
                assert time.monotonic() - start < 5
        finally:
                for s in idle:
                        s.close()


def test_oversized_head_and_unauthenticated_upload_are_answered(daemon):
        d = daemon
        # A head that never ends within the limit: 431, not a hang.
        status, doc, data = raw(d, b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 20000)
        assert status == 431, data[:300]
        assert doc["error"] and doc["hint"]
        # An upload without the token is refused before its body is read, and the refusal reaches the
        # client (the gate reads and drops the body rather than resetting the connection under it).
        body = b"x" * (512 * 1024)
        status, doc, data = raw(d, f"POST /api/v1/images/import?format=oci-archive HTTP/1.1\r\nHost: x\r\n"
                                f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        assert status == 401, data[:300]
        assert "token" in doc["error"]
        assert d.images() == []
