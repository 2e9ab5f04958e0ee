"""Issue 13: the registry's push side against real clients.  skopeo copies in and out with digests unchanged;
buildah and podman push and pull with token auth, and a wrong token is 401; a chunked upload cut off mid-way
(and a daemon killed with -9 mid-upload) resumes from the status the registry reports; a bad digest stores
nothing; manifests are checked before they are stored; tags and manifests can be deleted; the referrers API
lists an artifact pushed with a subject; image gc keeps what was pushed."""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def run(*argv, check=True, timeout=180):
        p = subprocess.run([*map(str, argv)], capture_output=True, text=True, timeout=timeout)
        if check:
                assert p.returncode == 0, f"{' '.join(map(str, argv))}: {p.stderr}"
        return p


def sha(data):
        return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def reg(module_daemon):
        d = module_daemon
        return d, d.url.split("//", 1)[1]


def auth(d):
        return ("admin", d.token)


@pytest.fixture
def storage(tmp_path):
        """buildah/podman flags for a storage of the test's own (the host's stays untouched); podman wants a
        runroot of at most 50 characters."""
        runroot = tempfile.mkdtemp(prefix="sw-run-", dir="/tmp")
        yield ["--root", tmp_path / "root", "--runroot", runroot, "--storage-driver", "vfs"]
        shutil.rmtree(runroot, ignore_errors=True)


def test_skopeo_copies_in_and_out_with_digests_unchanged(reg, images, tmp_path):
        d, host = reg
        for src, name in ((images / "busybox.oci.tar", "pushed/busybox:1"), (images / "multi.oci.tar", "pushed/multi:2")):
                want = json.loads(run("skopeo", "inspect", f"oci-archive:{src}").stdout)["Digest"]
                run("skopeo", "copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false",
                    "--dest-creds", f"admin:{d.token}", f"oci-archive:{src}", f"docker://{host}/{name}")
                # It is an image of the store like any other: listed, inspectable, with its digest.
                assert d.cli("image", "inspect", name)["digest"] == want
                out = tmp_path / name.replace("/", "_").replace(":", "_")
                run("skopeo", "copy", "--quiet", "--preserve-digests", "--src-tls-verify=false",
                    "--src-creds", f"admin:{d.token}", f"docker://{host}/{name}", f"oci:{out}:x")
                assert json.loads(run("skopeo", "inspect", f"oci:{out}:x").stdout)["Digest"] == want
        tags = requests.get(f"{d.url}/v2/pushed/busybox/tags/list", auth=auth(d), timeout=10).json()
        assert tags["tags"] == ["1"]


def test_wrong_token_cannot_push(reg, images):
        d, host = reg
        p = run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", "admin:wrong",
                f"oci-archive:{images / 'busybox.oci.tar'}", f"docker://{host}/denied/busybox:1", check=False)
        assert p.returncode != 0 and "unauthorized" in p.stderr.lower(), p.stderr
        r = requests.post(f"{d.url}/v2/denied/x/blobs/uploads/", auth=("admin", "nope"), timeout=10)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="slipway"'
        assert d.cli("image", "list", "--json") is not None
        assert not [i for i in d.images() if any(ref.startswith("denied/") for ref in i["refs"])]


@pytest.mark.parametrize("tool", ["buildah", "podman"])
def test_buildah_and_podman_push_and_pull(reg, images, storage, tool):
        d, host = reg
        st = storage
        src = f"{host}/pushed/busybox:1"
        run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"admin:{d.token}",
            f"oci-archive:{images / 'busybox.oci.tar'}", f"docker://{src}")
        run(tool, *st, "pull", "--quiet", "--tls-verify=false", "--creds", f"admin:{d.token}", f"docker://{src}")
        dst = f"{host}/{tool}/busybox:pushed"
        run(tool, *st, "push", "--quiet", "--tls-verify=false", "--creds", f"admin:{d.token}", src, f"docker://{dst}")
        got = d.cli("image", "inspect", f"{tool}/busybox:pushed")
        # What the tool pushed is what the registry serves: same manifest digest, whole config and layers.
        raw = requests.get(f"{d.url}/v2/{tool}/busybox/manifests/pushed", auth=auth(d), timeout=10,
                           headers={"Accept": OCI_MANIFEST})
        assert raw.status_code == 200 and sha(raw.content) == got["digest"]
        for layer in raw.json()["layers"]:
                h = requests.head(f"{d.url}/v2/{tool}/busybox/blobs/{layer['digest']}", auth=auth(d), timeout=10)
                assert h.status_code == 200 and int(h.headers["Content-Length"]) == layer["size"]
        bad = run(tool, *st, "push", "--quiet", "--tls-verify=false", "--creds", "admin:wrong", src,
                  f"docker://{host}/{tool}/busybox:denied", check=False)
        assert bad.returncode != 0 and ("unauthorized" in bad.stderr.lower() or "401" in bad.stderr), bad.stderr
        bad = run(tool, *st, "pull", "--quiet", "--tls-verify=false", "--creds", "admin:wrong", f"docker://{dst}",
                  check=False)
        assert bad.returncode != 0


def start_upload(d, repo):
        r = requests.post(f"{d.url}/v2/{repo}/blobs/uploads/", auth=auth(d), timeout=10)
        assert r.status_code == 202, r.text
        assert r.headers["Docker-Upload-UUID"] and r.headers["Location"].startswith(f"/v2/{repo}/blobs/uploads/")
        return d.url + r.headers["Location"]


def status(d, loc):
        r = requests.get(loc, auth=auth(d), timeout=10)
        assert r.status_code == 204, r.text
        return r.headers["Range"]


def test_chunked_upload_in_order_out_of_order_and_streamed(reg):
        d, _ = reg
        data = os.urandom(300_000)
        loc = start_upload(d, "chunks/app")
        r = requests.patch(loc, data=data[:100_000], auth=auth(d), timeout=10,
                           headers={"Content-Range": "0-99999", "Content-Type": "application/octet-stream"})
        assert r.status_code == 202 and r.headers["Range"] == "0-99999", r.text
        # A chunk that does not start where the upload stands is 416 with where it stands.
        r = requests.patch(loc, data=data[150_000:200_000], auth=auth(d), timeout=10,
                           headers={"Content-Range": "150000-199999"})
        assert r.status_code == 416 and r.headers["Range"] == "0-99999"
        assert status(d, loc) == "0-99999"
        # A streamed PATCH: chunked transfer coding, no Content-Length.
        def gen():
                for i in range(100_000, 250_000, 30_000):
                        yield data[i:i + 30_000]
        r = requests.patch(loc, data=gen(), auth=auth(d), timeout=30)
        assert r.status_code == 202 and r.headers["Range"] == "0-249999", r.text
        # The final PUT carries the last piece.
        r = requests.put(loc, params={"digest": sha(data)}, data=data[250_000:], auth=auth(d), timeout=30)
        assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == sha(data), r.text
        b = requests.get(f"{d.url}/v2/chunks/app/blobs/{sha(data)}", auth=auth(d), timeout=30)
        assert b.status_code == 200 and b.content == data
        assert requests.get(loc, auth=auth(d), timeout=10).status_code == 404  # the session is gone


def test_monolithic_post_and_single_put(reg):
        d, _ = reg
        one, two = os.urandom(5000), os.urandom(7000)
        r = requests.post(f"{d.url}/v2/mono/app/blobs/uploads/", params={"digest": sha(one)}, data=one,
                          auth=auth(d), timeout=10, headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201 and r.headers["Location"] == f"/v2/mono/app/blobs/{sha(one)}"
        loc = start_upload(d, "mono/app")
        r = requests.put(loc, params={"digest": sha(two)}, data=two, auth=auth(d), timeout=10)
        assert r.status_code == 201
        for blob in (one, two):
                assert requests.get(f"{d.url}/v2/mono/app/blobs/{sha(blob)}", auth=auth(d),
                                    timeout=10).content == blob
        # Cross-repository mount of a blob the registry holds: 201 at once; of one it lacks: a new session.
        r = requests.post(f"{d.url}/v2/other/app/blobs/uploads/", params={"mount": sha(one), "from": "mono/app"},
                          auth=auth(d), timeout=10)
        assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == sha(one)
        r = requests.post(f"{d.url}/v2/other/app/blobs/uploads/", params={"mount": "sha256:" + "1" * 64,
                                                                         "from": "mono/app"},
                          auth=auth(d), timeout=10)
        assert r.status_code == 202


def test_bad_digest_stores_nothing(reg):
        d, _ = reg
        data = os.urandom(20_000)
        loc = start_upload(d, "bad/app")
        wrong = sha(b"something else")
        r = requests.put(loc, params={"digest": wrong}, data=data, auth=auth(d), timeout=10)
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == "DIGEST_INVALID"
        for digest in (wrong, sha(data)):
                assert requests.head(f"{d.url}/v2/bad/app/blobs/{digest}", auth=auth(d), timeout=10).status_code == 404
        blobs = d.oci_dir() / "blobs" / "sha256"
        assert not (blobs / sha(data)[7:]).exists() and not (blobs / wrong[7:]).exists()
        assert not (d.state_dir / "registry" / "uploads" / loc.rsplit("/", 1)[1]).exists()
        r = requests.put(loc, params={"digest": "md5:abc"}, auth=auth(d), timeout=10)
        assert r.status_code == 404  # the session went with its wrong bytes


def cut_patch(d, loc, data, sent):
        """A PATCH announcing len(data) bytes that stops after `sent` of them: the connection just ends."""
        path = loc.split(d.api, 1)[1]
        cred = __import__("base64").b64encode(f"admin:{d.token}".encode()).decode()
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.sendall((f"PATCH {path} HTTP/1.1\r\nHost: {d.api}\r\nAuthorization: Basic {cred}\r\n"
                   f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n").encode())
        s.sendall(data[:sent])
        time.sleep(0.3)
        s.close()


def wait_range(d, loc, want, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
                got = status(d, loc)
                if got == want or time.monotonic() > deadline:
                        return got
                time.sleep(0.2)


def test_cut_upload_resumes_from_the_reported_status(reg):
        d, _ = reg
        data = os.urandom(400_000)
        loc = start_upload(d, "resume/app")
        cut_patch(d, loc, data, 123_456)
        # The registry keeps the bytes that came and says so; the client sends the rest from there.
        assert wait_range(d, loc, "0-123455") == "0-123455"
        r = requests.patch(loc, data=data[123_456:], auth=auth(d), timeout=30,
                           headers={"Content-Range": f"123456-{len(data) - 1}"})
        assert r.status_code == 202 and r.headers["Range"] == f"0-{len(data) - 1}"
        r = requests.put(loc, params={"digest": sha(data)}, auth=auth(d), timeout=30)
        assert r.status_code == 201, r.text
        assert requests.get(f"{d.url}/v2/resume/app/blobs/{sha(data)}", auth=auth(d), timeout=30).content == data


def test_kill_9_mid_upload_leaves_no_blob_and_the_session_survives(start_daemon):
        d = start_daemon()
        data = os.urandom(2_000_000)
        loc = start_upload(d, "killed/app")
        r = requests.patch(loc, data=data[:500_000], auth=auth(d), timeout=30, headers={"Content-Range": "0-499999"})
        assert r.status_code == 202
        # kill -9 while a PATCH is streaming
        path = loc.split(d.api, 1)[1]
        cred = __import__("base64").b64encode(f"admin:{d.token}".encode()).decode()
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.sendall((f"PATCH {path} HTTP/1.1\r\nHost: {d.api}\r\nAuthorization: Basic {cred}\r\n"
                   f"Content-Range: 500000-{len(data) - 1}\r\nContent-Length: {len(data) - 500_000}\r\n\r\n").encode())
        s.sendall(data[500_000:1_200_000])
        time.sleep(0.5)
        os.kill(d.pid, signal.SIGKILL)
        d.proc.wait()
        s.close()
        assert not (d.oci_dir() / "blobs" / "sha256" / sha(data)[7:]).exists()
        d.start()
        assert requests.head(f"{d.url}/v2/killed/app/blobs/{sha(data)}", auth=auth(d), timeout=10).status_code == 404
        got = status(d, loc.replace(loc.split("/v2/")[0], d.url))
        end = int(got.split("-")[1]) + 1
        assert 500_000 <= end <= 1_200_000, got
        loc = loc.replace(loc.split("/v2/")[0], d.url)
        r = requests.patch(loc, data=data[end:], auth=auth(d), timeout=30,
                           headers={"Content-Range": f"{end}-{len(data) - 1}"})
        assert r.status_code == 202
        r = requests.put(loc, params={"digest": sha(data)}, auth=auth(d), timeout=30)
        assert r.status_code == 201, r.text
        assert requests.get(f"{d.url}/v2/killed/app/blobs/{sha(data)}", auth=auth(d), timeout=30).content == data


def test_unfinished_uploads_expire(start_daemon):
        d = start_daemon(extra_args=["--registry-upload-ttl", "1s"])
        loc = start_upload(d, "stale/app")
        r = requests.patch(loc, data=b"x" * 1000, auth=auth(d), timeout=10)
        assert r.status_code == 202
        uploads = d.state_dir / "registry" / "uploads"
        assert len(list(uploads.iterdir())) == 1
        time.sleep(2.5)
        start_upload(d, "stale/other")  # the registry sweeps idle sessions when a new one starts
        assert requests.get(loc, auth=auth(d), timeout=10).status_code == 404
        assert len(list(uploads.iterdir())) == 1
        assert "expired unfinished" in d.log()


def put_blob(d, repo, data):
        r = requests.post(f"{d.url}/v2/{repo}/blobs/uploads/", params={"digest": sha(data)}, data=data,
                          auth=auth(d), timeout=10)
        assert r.status_code == 201, r.text
        return {"digest": sha(data), "size": len(data)}


def put_manifest(d, repo, ref, doc, media_type=OCI_MANIFEST):
        body = json.dumps(doc).encode()
        r = requests.put(f"{d.url}/v2/{repo}/manifests/{ref}", data=body, auth=auth(d), timeout=10,
                         headers={"Content-Type": media_type})
        return r, sha(body)


def test_manifest_put_is_checked(reg, images):
        d, host = reg
        run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"admin:{d.token}",
            f"oci-archive:{images / 'busybox.oci.tar'}", f"docker://{host}/checked/busybox:1")
        good = requests.get(f"{d.url}/v2/checked/busybox/manifests/1", auth=auth(d), timeout=10,
                            headers={"Accept": OCI_MANIFEST}).json()
        missing = json.loads(json.dumps(good))
        missing["layers"][0]["digest"] = "sha256:" + "2" * 64
        r, _ = put_manifest(d, "checked/busybox", "missing", missing)
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN", r.text
        wrong_size = json.loads(json.dumps(good))
        wrong_size["layers"][0]["size"] += 1
        r, _ = put_manifest(d, "checked/busybox", "size", wrong_size)
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == "SIZE_INVALID"
        r, _ = put_manifest(d, "checked/busybox", "ct", good, media_type="application/vnd.oci.image.index.v1+json")
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == "MANIFEST_INVALID"
        unknown = dict(good, mediaType="application/x-unknown")
        r, _ = put_manifest(d, "checked/busybox", "mt", unknown, media_type="application/x-unknown")
        assert r.status_code == 400
        r = requests.put(f"{d.url}/v2/checked/busybox/manifests/junk", data=b"{not json", auth=auth(d), timeout=10,
                         headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == "MANIFEST_INVALID"
        r = requests.put(f"{d.url}/v2/checked/busybox/manifests/big", data=b" " * (5 * 1024 * 1024), auth=auth(d),
                         timeout=30, headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 413
        r, digest = put_manifest(d, "checked/busybox", "sha256:" + "3" * 64, good)
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == "DIGEST_INVALID"
        tags = requests.get(f"{d.url}/v2/checked/busybox/tags/list", auth=auth(d), timeout=10).json()["tags"]
        assert tags == ["1"]  # nothing refused was tagged


def test_referrers_list_an_artifact_pushed_with_a_subject(reg, images):
        d, host = reg
        run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"admin:{d.token}",
            f"oci-archive:{images / 'busybox.oci.tar'}", f"docker://{host}/ref/busybox:1")
        image = requests.get(f"{d.url}/v2/ref/busybox/manifests/1", auth=auth(d), timeout=10,
                             headers={"Accept": OCI_MANIFEST})
        subject = {"mediaType": OCI_MANIFEST, "digest": sha(image.content), "size": len(image.content)}
        empty = put_blob(d, "ref/busybox", b"{}")
        sbom = put_blob(d, "ref/busybox", b'{"bomFormat":"CycloneDX","specVersion":"1.5"}')
        art = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.cyclonedx+json",
               "config": dict(empty, mediaType="application/vnd.oci.empty.v1+json"),
               "layers": [dict(sbom, mediaType="application/vnd.cyclonedx+json")],
               "subject": subject, "annotations": {"org.opencontainers.image.created": "2026-12-03T00:00:00Z"}}
        r, art_digest = put_manifest(d, "ref/busybox", sha(json.dumps(art).encode()), art)
        assert r.status_code == 201 and r.headers["OCI-Subject"] == subject["digest"], r.text
        lst = requests.get(f"{d.url}/v2/ref/busybox/referrers/{subject['digest']}", auth=auth(d), timeout=10)
        assert lst.status_code == 200 and lst.headers["Content-Type"] == "application/vnd.oci.image.index.v1+json"
        m = lst.json()["manifests"]
        assert [x["digest"] for x in m] == [art_digest]
        assert m[0]["artifactType"] == "application/vnd.cyclonedx+json" and m[0]["annotations"]
        f = requests.get(f"{d.url}/v2/ref/busybox/referrers/{subject['digest']}", auth=auth(d), timeout=10,
                         params={"artifactType": "application/other"})
        assert f.json()["manifests"] == [] and f.headers["OCI-Filters-Applied"] == "artifactType"
        # The artifact is served by digest, and gc keeps it and its blobs.
        assert requests.get(f"{d.url}/v2/ref/busybox/manifests/{art_digest}", auth=auth(d),
                            timeout=10).status_code == 200
        d.cli("image", "gc")
        for blob in (empty, sbom):
                assert requests.head(f"{d.url}/v2/ref/busybox/blobs/{blob['digest']}", auth=auth(d),
                                     timeout=10).status_code == 200
        assert requests.get(f"{d.url}/v2/ref/busybox/manifests/{art_digest}", auth=auth(d),
                            timeout=10).status_code == 200


def test_delete_tags_and_manifests(reg, images):
        d, host = reg
        for tag in ("a", "b"):
                run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"admin:{d.token}",
                    f"oci-archive:{images / 'busybox.oci.tar'}", f"docker://{host}/del/busybox:{tag}")
        digest = d.cli("image", "inspect", "del/busybox:a")["digest"]
        r = requests.delete(f"{d.url}/v2/del/busybox/manifests/a", auth=auth(d), timeout=10)
        assert r.status_code == 202
        assert requests.get(f"{d.url}/v2/del/busybox/tags/list", auth=auth(d), timeout=10).json()["tags"] == ["b"]
        r = requests.delete(f"{d.url}/v2/del/busybox/manifests/{digest}", auth=auth(d), timeout=10)
        assert r.status_code == 202
        assert requests.get(f"{d.url}/v2/del/busybox/manifests/b", auth=auth(d), timeout=10).status_code == 404
        assert requests.delete(f"{d.url}/v2/del/busybox/manifests/b", auth=auth(d), timeout=10).status_code == 404
        # Other repositories' names of the same image stay.
        assert d.cli("image", "inspect", "pushed/busybox:1")["digest"] == digest


def test_gc_keeps_blobs_pushed_before_their_manifest(reg):
        d, _ = reg
        data = os.urandom(10_000)
        put_blob(d, "pending/app", data)
        d.cli("image", "gc")
        assert requests.get(f"{d.url}/v2/pending/app/blobs/{sha(data)}", auth=auth(d), timeout=10).content == data


def test_a_read_only_token_pulls_but_cannot_push(reg, images):
        d, host = reg
        ro = d.cli("token", "create", "puller", "--read-only")["token"]
        run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"admin:{d.token}",
            f"oci-archive:{images / 'busybox.oci.tar'}", f"docker://{host}/ro/busybox:1")
        run("skopeo", "inspect", "--tls-verify=false", "--creds", f"admin:{ro}", f"docker://{host}/ro/busybox:1")
        r = requests.post(f"{d.url}/v2/ro/busybox/blobs/uploads/", auth=("admin", ro), timeout=10)
        assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED", r.text
        p = run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"admin:{ro}",
                f"oci-archive:{images / 'busybox.oci.tar'}", f"docker://{host}/ro/busybox:2", check=False)
        assert p.returncode != 0
        assert requests.get(f"{d.url}/v2/ro/busybox/tags/list", auth=auth(d), timeout=10).json()["tags"] == ["1"]
