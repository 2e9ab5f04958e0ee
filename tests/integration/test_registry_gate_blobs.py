"""Registry blob reads (GET and HEAD of /v2/NAME/blobs/DIGEST) answered by the API gate itself with sendfile(2),
the rest of /v2/ by civetweb as before.  A client sees the registry's answers unchanged -- the same status lines,
headers in the same order, ranges, 416, the 404 document -- and, new, a connection kept alive after a blob, so a
pull reuses it; auth is refused as before; a gc that removes a blob while it is on its way does not cut it."""
import base64
import hashlib
import json
import socket
import subprocess
import time

import pytest
import requests

import slipway_images

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
BIG_MB = 48  # one layer larger than the loopback socket buffers, so a transfer is still going when gc runs


def skopeo(*args, check=True):
        p = subprocess.run(["skopeo", *map(str, args)], capture_output=True, text=True, timeout=180)
        if check:
                assert p.returncode == 0, f"skopeo {' '.join(map(str, args))}: {p.stderr}"
        return p


class Conn:
        """One client connection speaking HTTP/1.1 by hand: what went over the wire is what is asserted."""

        def __init__(self, d, rcvbuf=None):
                host, port = d.url.split("//", 1)[1].rsplit(":", 1)
                self.s = socket.socket()
                if rcvbuf:
                        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
                self.s.settimeout(20)
                self.s.connect((host, int(port)))
                self.buf = b""

        def send(self, method, path, auth=None, headers=()):
                lines = [f"{method} {path} HTTP/1.1", "Host: slipway"]
                if auth:
                        lines.append("Authorization: Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
                lines += list(headers)
                self.s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

        def _fill(self):
                data = self.s.recv(1 << 20)
                if not data:
                        raise EOFError("the server closed the connection")
                self.buf += data

        def head(self):
                """(status, [(name, value)...] in order) of the next answer."""
                while b"\r\n\r\n" not in self.buf:
                        self._fill()
                raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
                lines = raw.decode().split("\r\n")
                status = int(lines[0].split()[1])
                return status, [tuple(l.split(": ", 1)) for l in lines[1:]]

        def body(self, n):
                while len(self.buf) < n:
                        self._fill()
                out, self.buf = self.buf[:n], self.buf[n:]
                return out

        def answer(self, method="GET"):
                status, headers = self.head()
                length = int(dict(headers).get("Content-Length", "0"))
                return status, headers, b"" if method == "HEAD" else self.body(length)

        def closed(self, timeout=3):
                """True when the server closed the connection (nothing more comes)."""
                self.s.settimeout(timeout)
                try:
                        return self.s.recv(1) == b""
                except socket.timeout:
                        return False
                except ConnectionResetError:
                        return True

        def close(self):
                self.s.close()


def request(d, method, path, auth=None, headers=()):
        c = Conn(d)
        try:
                c.send(method, path, auth, headers)
                return c.answer(method)
        finally:
                c.close()


@pytest.fixture(scope="module")
def reg(module_daemon, images, tmp_path_factory):
        d = module_daemon
        d.cli("image", "import", images / "busybox.oci.tar")
        r = requests.get(f"{d.url}/v2/busybox/manifests/1", auth=("admin", d.token), headers={"Accept": MANIFEST},
                         timeout=10)
        assert r.status_code == 200, r.text
        m = r.json()
        return d, m, r.headers["Docker-Content-Digest"]


def auth(d):
        return ("admin", d.token)


def blob_path(d, digest):
        return d.oci_dir() / "blobs" / "sha256" / digest.split(":", 1)[1]


def test_blob_heads_are_the_registrys(reg):
        d, m, mdigest = reg
        layer, cfg = m["layers"][0], m["config"]
        data = blob_path(d, cfg["digest"]).read_bytes()
        status, headers, body = request(d, "GET", f"/v2/busybox/blobs/{cfg['digest']}", auth(d))
        assert status == 200 and body == data
        expect = [("Docker-Distribution-API-Version", "registry/2.0"),
                  ("Content-Type", "application/octet-stream"),
                  ("Content-Length", str(len(data))),
                  ("Docker-Content-Digest", cfg["digest"]),
                  ("Accept-Ranges", "bytes"),
                  ("ETag", f'"{cfg["digest"]}"')]
        assert headers == expect
        # HEAD: the same head, no body (the next answer on the connection starts right after it)
        c = Conn(d)
        c.send("HEAD", f"/v2/busybox/blobs/{layer['digest']}", auth(d))
        c.send("GET", f"/v2/busybox/blobs/{cfg['digest']}", auth(d))
        status, headers = c.head()
        assert status == 200 and dict(headers)["Content-Length"] == str(layer["size"])
        assert [n for n, _ in headers] == [n for n, _ in expect]
        assert c.answer() == (200, expect, data)
        c.close()
        # the manifest, which civetweb still answers, carries the same registry headers in the same shape
        status, mheaders, mbody = request(d, "GET", "/v2/busybox/manifests/1", auth(d), ["Accept: " + MANIFEST])
        mh = dict(mheaders)
        assert status == 200 and hashlib.sha256(mbody).hexdigest() == mdigest.split(":")[1]
        assert mh["Docker-Distribution-API-Version"] == dict(expect)["Docker-Distribution-API-Version"]
        assert mh["ETag"] == f'"{mh["Docker-Content-Digest"]}"' and mh["Content-Length"] == str(len(mbody))
        assert [n for n, _ in mheaders] == [n for n, _ in expect if n != "Accept-Ranges"]
        # the digest is the content's, as a client checks
        assert "sha256:" + hashlib.sha256(body).hexdigest() == cfg["digest"]


def test_ranges_and_missing_blobs(reg):
        d, m, _ = reg
        cfg = m["config"]
        data = blob_path(d, cfg["digest"]).read_bytes()
        size = len(data)
        path = f"/v2/busybox/blobs/{cfg['digest']}"
        status, headers, body = request(d, "GET", path, auth(d), ["Range: bytes=10-19"])
        assert status == 206 and body == data[10:20]
        assert headers == [("Docker-Distribution-API-Version", "registry/2.0"),
                           ("Content-Type", "application/octet-stream"),
                           ("Content-Length", "10"),
                           ("Content-Range", f"bytes 10-19/{size}"),
                           ("Docker-Content-Digest", cfg["digest"]),
                           ("Accept-Ranges", "bytes")]
        status, headers, body = request(d, "GET", path, auth(d), [f"Range: bytes={size - 3}-"])
        assert status == 206 and body == data[-3:] and dict(headers)["Content-Range"] == f"bytes {size - 3}-{size - 1}/{size}"
        # an end past the blob's is its last byte; HEAD of a range is its head alone
        status, headers, body = request(d, "HEAD", path, auth(d), [f"Range: bytes=5-{size + 100}"])
        assert status == 206 and body == b"" and dict(headers)["Content-Length"] == str(size - 5)
        for bad in (f"bytes={size}-", f"bytes={size + 5}-", "bytes=9-3"):
                status, headers, body = request(d, "GET", path, auth(d), [f"Range: {bad}"])
                assert status == 416 and body == b"", bad
                assert headers == [("Docker-Distribution-API-Version", "registry/2.0"),
                                   ("Content-Range", f"bytes */{size}"), ("Content-Length", "0")]
        # several ranges, or other spellings: civetweb's registry says what it always said
        assert requests.get(f"{d.url}{path}", auth=auth(d), headers={"Range": "bytes=0-1,4-5"},
                            timeout=10).status_code == 416
        r = requests.get(f"{d.url}{path}", auth=auth(d), headers={"Range": "bytes=-5"}, timeout=10)
        assert r.status_code == 416

        # missing: 404 BLOB_UNKNOWN in the spec's shape, with the same headers as a civetweb 404
        missing = f"/v2/busybox/blobs/sha256:{'0' * 64}"
        status, headers, body = request(d, "GET", missing, auth(d))
        assert status == 404
        assert json.loads(body) == {"errors": [{"code": "BLOB_UNKNOWN",
                                                "message": "The store has no blob of that digest.", "detail": {}}]}
        assert body.endswith(b"}\n") and dict(headers)["Content-Length"] == str(len(body))
        mstatus, mheaders, mbody = request(d, "GET", "/v2/busybox/manifests/nope", auth(d))
        assert mstatus == 404 and json.loads(mbody)["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        assert [n for n, _ in headers] == [n for n, _ in mheaders]
        assert dict(headers)["Content-Type"] == "application/json" and dict(headers)["Cache-Control"] == "no-store"
        hstatus, hheaders, _ = request(d, "HEAD", missing, auth(d))
        assert hstatus == 404 and hheaders == headers
        # bad names and digests stay the registry's 400s
        for p, code in ((f"/v2/Busybox/blobs/{cfg['digest']}", "NAME_INVALID"),
                        ("/v2/busybox/blobs/sha256:abc", "DIGEST_INVALID")):
                e = requests.get(f"{d.url}{p}", auth=auth(d), timeout=10)
                assert e.status_code == 400 and e.json()["errors"][0]["code"] == code, (p, e.text)


def test_keep_alive_two_blobs_then_a_manifest(reg):
        d, m, mdigest = reg
        layer, cfg = m["layers"][0], m["config"]
        c = Conn(d)
        for digest, size in ((layer["digest"], layer["size"]), (cfg["digest"], cfg["size"])):
                c.send("GET", f"/v2/busybox/blobs/{digest}", auth(d))
                status, _, body = c.answer()
                assert status == 200 and len(body) == size
                assert "sha256:" + hashlib.sha256(body).hexdigest() == digest
        c.send("GET", "/v2/busybox/manifests/1", auth(d), ["Accept: " + MANIFEST])
        status, headers, body = c.answer()
        assert status == 200 and dict(headers)["Docker-Content-Digest"] == mdigest
        assert "sha256:" + hashlib.sha256(body).hexdigest() == mdigest
        c.close()

        # the same three sent at once (pipelined): answered in order
        c = Conn(d)
        c.send("GET", f"/v2/busybox/blobs/{cfg['digest']}", auth(d))
        c.send("HEAD", f"/v2/busybox/blobs/{layer['digest']}", auth(d))
        c.send("GET", "/v2/busybox/manifests/1", auth(d), ["Accept: " + MANIFEST])
        assert c.answer()[0] == 200
        status, headers, body = c.answer("HEAD")
        assert status == 200 and dict(headers)["Content-Length"] == str(layer["size"])
        status, headers, body = c.answer()
        assert status == 200 and dict(headers)["Docker-Content-Digest"] == mdigest
        c.close()

        # a client that asks to close gets its answer and then the close
        c = Conn(d)
        c.send("GET", f"/v2/busybox/blobs/{cfg['digest']}", auth(d), ["Connection: close"])
        assert c.answer()[0] == 200 and c.closed()
        c.close()


def test_auth_is_refused_as_before(reg):
        d, m, _ = reg
        path = f"/v2/busybox/blobs/{m['config']['digest']}"
        for who in (None, ("admin", "wrong"), ("someone", d.token)):
                status, headers, body = request(d, "GET", path, who)
                assert status == 401, who
                assert dict(headers)["WWW-Authenticate"] == 'Basic realm="slipway"'
                assert json.loads(body)["errors"][0]["code"] == "UNAUTHORIZED"
                assert request(d, "HEAD", path, who)[0] == 401
        # a wrong token on a connection that was just served is refused too
        c = Conn(d)
        c.send("GET", path, auth(d))
        assert c.answer()[0] == 200
        c.send("GET", path, ("admin", "wrong"))
        assert c.answer()[0] == 401
        c.close()
        # the API's bearer token works, as on every /v2/ path
        assert requests.get(f"{d.url}{path}", headers={"Authorization": f"Bearer {d.token}"},
                            timeout=10).status_code == 200


def test_anonymous_pull_only_when_enabled(build_dir, tmp_path_factory, images):
        from conftest import Daemon
        d = Daemon(build_dir, tmp_path_factory.mktemp("slipway-anon-blobs") / "state")
        d.extra_args = ["--registry-anonymous-pull"]
        d.start()
        try:
                d.cli("image", "import", images / "busybox.oci.tar")
                m = requests.get(f"{d.url}/v2/busybox/manifests/1", headers={"Accept": MANIFEST}, timeout=10).json()
                cfg = m["config"]
                status, _, body = request(d, "GET", f"/v2/busybox/blobs/{cfg['digest']}")
                assert status == 200 and "sha256:" + hashlib.sha256(body).hexdigest() == cfg["digest"]
                assert request(d, "HEAD", f"/v2/busybox/blobs/{cfg['digest']}")[0] == 200
                # wrong credentials are still refused
                assert request(d, "GET", f"/v2/busybox/blobs/{cfg['digest']}", ("admin", "wrong"))[0] == 401
        finally:
                d.stop()


@pytest.fixture(scope="module")
def big(reg, tmp_path_factory):
        """A one-layer image of BIG_MB MiB of random data, imported from an OCI layout."""
        d, _, _ = reg
        layout = tmp_path_factory.mktemp("big-layout") / "layout"
        layout.mkdir()
        mdesc = slipway_images.write_random_layout(str(layout), "big/blob:1", BIG_MB, layers=1, files_per_layer=1)
        d.cli("image", "import", layout, "--name", "big/blob:1")
        manifest = slipway_images.layout_read_json(str(layout), mdesc["digest"])
        return d, mdesc["digest"], manifest


def test_skopeo_pulls_through_the_gate_with_digests_unchanged(big, tmp_path):
        d, mdigest, manifest = big
        host = d.url.split("//", 1)[1]
        skopeo("copy", "--preserve-digests", "--src-tls-verify=false", "--src-creds", f"admin:{d.token}",
               f"docker://{host}/big/blob:1", f"oci:{tmp_path / 'out'}:x")
        assert json.loads(skopeo("inspect", f"oci:{tmp_path / 'out'}:x").stdout)["Digest"] == mdigest
        layer = manifest["layers"][0]
        got = tmp_path / "out" / "blobs" / "sha256" / layer["digest"].split(":")[1]
        assert got.stat().st_size == layer["size"]
        assert slipway_images.sha256_file(str(got)) == layer["digest"]


def test_a_gc_during_a_transfer_does_not_cut_it(big):
        d, mdigest, manifest = big
        layer = manifest["layers"][0]
        assert layer["size"] >= BIG_MB << 20
        c = Conn(d, rcvbuf=64 * 1024)
        c.send("GET", f"/v2/big/blob/blobs/{layer['digest']}", auth(d))
        status, headers = c.head()
        assert status == 200 and dict(headers)["Content-Length"] == str(layer["size"])
        h = hashlib.sha256()
        first = c.body(1 << 20)
        h.update(first)
        # the image goes and gc removes its blobs while most of the layer is still to come
        d.cli("image", "rm", "big/blob:1")
        gc = d.cli("image", "gc")
        assert not blob_path(d, layer["digest"]).exists(), gc
        assert layer["digest"] not in d.blob_files()
        left = layer["size"] - len(first)
        assert left > 32 << 20  # the transfer really was going on
        while left > 0:
                chunk = c.body(min(left, 4 << 20))
                h.update(chunk)
                left -= len(chunk)
        assert "sha256:" + h.hexdigest() == layer["digest"]
        c.close()
        # and now it is gone for the next reader
        assert request(d, "GET", f"/v2/big/blob/blobs/{layer['digest']}", auth(d))[0] == 404
