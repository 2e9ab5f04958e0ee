"""Helpers for the slipway-proxy integration tests: a real HTTP/1.1 test backend (run as a separate
process: `python3 proxy_util.py backend PORT NAME`), a proxy launcher, and raw-socket HTTP helpers so
tests can send exactly the bytes they mean (smuggling payloads, pipelining, half-finished heads)."""
import base64
import hashlib
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SLIPWAY_BUILD_DIR", os.path.join(REPO, "build"))
PROXY_BIN = os.path.join(BUILD, "runtime", "proxy", "slipway-proxy")
PY = "/usr/bin/python3"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PATTERN = bytes(range(256)) * 4096  # 1 MiB of deterministic data


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def pattern_stream(size):
    """Yields `size` bytes of PATTERN in 1 MiB pieces."""
    left = size
    while left > 0:
        n = min(left, len(PATTERN))
        yield PATTERN[:n]
        left -= n


def pattern_sha256(size):
    h = hashlib.sha256()
    for piece in pattern_stream(size):
        h.update(piece)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------
# Backend (runs in its own process)

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    name = "backend"
    counter = 0
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def _read_into(self, h, left, what):
        """Reads left bytes of the body into the hash h; a connection closing first is a short `what`."""
        while left:
            piece = self.rfile.read(min(left, 1 << 20))
            if not piece:
                raise ConnectionError(f"short {what}")
            h.update(piece)
            left -= len(piece)

    def _read_body(self):
        h = hashlib.sha256()
        n = 0
        te = self.headers.get("Transfer-Encoding")
        if te and te.lower() == "chunked":
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                self._read_into(h, size, "chunk")
                n += size
                self.rfile.readline()
        else:
            n = int(self.headers.get("Content-Length") or 0)
            self._read_into(h, n, "body")
        return n, h.hexdigest()

    def _send(self, status, body=b"", ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def _echo(self, n, digest, **more):
        doc = {
            "name": self.name, "method": self.command, "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_len": n, "body_sha256": digest, "peer_port": self.client_address[1],
        }
        doc.update(more)
        self._send(200, json.dumps(doc).encode())

    def _route(self):
        with _Handler.lock:
            _Handler.counter += 1
        parts = self.path.split("?")[0].strip("/").split("/")
        head = parts[0]
        arg = parts[1] if len(parts) > 1 else "0"
        if head == "ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self._websocket()
        if head == "reject":
            n, digest = 0, ""
        else:
            n, digest = self._read_body()
        if head == "count":
            return self._send(200, str(_Handler.counter).encode(), "text/plain")
        if head == "id":
            return self._send(200, self.name.encode(), "text/plain")
        if head == "size":
            return self._send(200, b"x" * int(arg), "text/plain")
        if head == "status":
            return self._send(int(arg), b"status body\n", "text/plain")
        if head == "slow":
            time.sleep(float(arg))
            return self._echo(n, digest)
        if head == "hang":
            time.sleep(3600)
        if head == "close":
            self.close_connection = True
            return self._send(200, b"bye\n", "text/plain", [("Connection", "close")])
        if head == "hop":
            return self._send(200, b"hop\n", "text/plain",
                              [("Connection", "X-Secret"), ("X-Secret", "1"), ("Keep-Alive", "timeout=5"),
                               ("X-Kept", "yes")])
        if head == "download":
            size = int(arg)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            for piece in pattern_stream(size):
                self.wfile.write(piece)
            return
        if head == "chunked":
            size = int(arg)
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in pattern_stream(size):
                for k in range(0, len(piece), 65536):
                    sub = piece[k:k + 65536]
                    self.wfile.write(b"%x\r\n" % len(sub) + sub + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        if head == "eof":
            # no length, no chunking: the body ends when the connection does
            self.close_connection = True
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until-eof" * 100)
            return
        if head == "die":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"partial" * 10)
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if head == "reject":
            # answers before reading the request body, then closes (like a 413 from a size check)
            self.close_connection = True
            self.send_response(413)
            self.send_header("Content-Length", "9")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"too large")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            time.sleep(0.5)
            return
        if head == "dieheaders":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        return self._echo(n, digest)

    def _websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        rf = self.rfile
        while True:
            hdr = rf.read(2)
            if len(hdr) < 2:
                break
            op = hdr[0] & 0x0F
            ln = hdr[1] & 0x7F
            if ln == 126:
                ln = struct.unpack(">H", rf.read(2))[0]
            elif ln == 127:
                ln = struct.unpack(">Q", rf.read(8))[0]
            mask = rf.read(4) if hdr[1] & 0x80 else b"\0\0\0\0"
            data = bytearray(rf.read(ln))
            for i in range(len(data)):
                data[i] ^= mask[i % 4]
            if op == 8:
                self.wfile.write(b"\x88\x00")
                break
            if op == 9:
                op = 10
            payload = (self.name.encode() + b":" + bytes(data)) if op == 1 else bytes(data)
            out = bytes([0x80 | op])
            if len(payload) < 126:
                out += bytes([len(payload)])
            elif len(payload) < 65536:
                out += bytes([126]) + struct.pack(">H", len(payload))
            else:
                out += bytes([127]) + struct.pack(">Q", len(payload))
            self.wfile.write(out + payload)
            self.wfile.flush()
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _route


def run_backend(port, name):
    _Handler.name = name
    srv = _Server(("127.0.0.1", port), _Handler)
    srv.serve_forever()


class Backend:
    """A test backend in its own process."""

    def __init__(self, name="b", port=None):
        self.name = name
        self.port = port or free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([PY, os.path.abspath(__file__), "backend", str(self.port), name])
        wait_port(self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


# ---------------------------------------------------------------------------------------------------
# Proxy

class Proxy:
    def __init__(self, state_dir, *args, workers=2, nofile=None):
        self.state_dir = str(state_dir)
        self.args = list(args)
        self.workers = workers
        self.nofile = nofile  # (soft, hard) open-files limit to start the proxy with
        self.log = open(os.path.join(self.state_dir, "proxy.log"), "ab") if os.path.isdir(self.state_dir) \
            else None
        self.start()

    def start(self):
        sock = os.path.join(self.state_dir, "proxy.sock")
        os.makedirs(self.state_dir, exist_ok=True)
        if self.log is None:
            self.log = open(os.path.join(self.state_dir, "proxy.log"), "ab")
        self.proc = subprocess.Popen([PROXY_BIN, "serve", "--state-dir", self.state_dir,
                                      "--workers", str(self.workers)] + self.args,
                                     stdout=self.log, stderr=self.log, preexec_fn=self._limits)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slipway-proxy exited with {self.proc.returncode}: {self.logtext()}")
            if os.path.exists(sock):
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.connect(sock)
                        return
                except OSError:
                    pass
            time.sleep(0.02)
        raise TimeoutError("slipway-proxy did not open its control socket")

    def _limits(self):
        if self.nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)

    def cpu_seconds(self):
        """utime + stime of the proxy so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def n_fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def logtext(self):
        with open(os.path.join(self.state_dir, "proxy.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def cli(self, *args, check=True, timeout=120):
        cmd = [PROXY_BIN] + list(args[:2]) + ["--state-dir", self.state_dir] + list(args[2:])
        if args and args[0] == "stats":
            cmd = [PROXY_BIN, "stats", "--state-dir", self.state_dir] + list(args[1:])
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"{cmd} failed ({r.returncode}): {r.stderr}")
        return r

    def route_set(self, name, listen, targets, *extra, check=True):
        args = ["route", "set", name, "--listen", listen]
        if targets is not None:
            args += ["--target", ",".join(targets)]
        return self.cli(*args, *extra, check=check)

    def stats(self):
        return json.loads(self.cli("stats", "--json").stdout)

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


# ---------------------------------------------------------------------------------------------------
# Raw HTTP

def connect(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Reader:
    """Reads HTTP/1.1 responses from a socket (Content-Length, chunked, until-EOF, no-body)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            self.eof = True
            raise EOFError("connection closed")
        self.buf += data

    def readline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self, n, sink=None):
        out = []
        while n > 0:
            if not self.buf:
                self._fill()
            piece = self.buf[:n]
            self.buf = self.buf[n:]
            n -= len(piece)
            if sink:
                sink(piece)
            else:
                out.append(piece)
        return b"".join(out)

    def response(self, head_request=False, sink=None):
        """Returns (status, headers dict lowercased (last wins), header list, body bytes)."""
        status_line = self.readline()
        parts = status_line.split(b" ", 2)
        status = int(parts[1])
        headers, hlist = {}, []
        while True:
            line = self.readline()
            if not line:
                break
            k, v = line.split(b":", 1)
            k = k.decode().strip()
            v = v.decode().strip()
            headers[k.lower()] = v
            hlist.append((k, v))
        body = b""
        if head_request or status in (204, 304) or 100 <= status < 200:
            return status, headers, hlist, body
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.readline().split(b";")[0], 16)
                if size == 0:
                    while self.readline():
                        pass
                    break
                chunks.append(self.read(size, sink))
                self.readline()
            body = b"".join(chunks)
        elif "content-length" in headers:
            body = self.read(int(headers["content-length"]), sink)
        else:
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            body, self.buf = self.buf, b""
        return status, headers, hlist, body

    def closed(self, timeout=3.0):
        """True when the peer closes (EOF or reset) within timeout with no further bytes."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
            return data == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def request(port, raw, head_request=False, timeout=10):
    """Sends raw bytes on a new connection and reads one response."""
    with connect(port, timeout) as s:
        s.sendall(raw)
        return Reader(s).response(head_request)


def get(port, path="/", host="app.test", extra=b"", timeout=10):
    raw = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n" + extra + b"\r\n"
    return request(port, raw, timeout=timeout)


def ws_frame(payload, op=1):
    """A masked client frame."""
    mask = os.urandom(4)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    if n < 126:
        hdr = bytes([0x80 | op, 0x80 | n])
    elif n < 65536:
        hdr = bytes([0x80 | op, 0x80 | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([0x80 | op, 0x80 | 127]) + struct.pack(">Q", n)
    return hdr + mask + data


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "backend":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        run_backend(int(sys.argv[2]), sys.argv[3])
    else:
        print("usage: proxy_util.py backend PORT NAME", file=sys.stderr)
        sys.exit(2)
