"""Issue 13, first part: the OCI distribution API at /v2/, pull side, against real clients.  skopeo pulls an
imported image and a pipeline-built one with HTTP Basic (admin + the admin token), digests unchanged; a wrong
token is 401 with WWW-Authenticate; manifests and blobs answer HEAD, byte ranges and the spec's errors."""
import hashlib
import json
import subprocess

import pytest
import requests

from git_util import commit


def skopeo(*args, check=True):
        p = subprocess.run(["skopeo", *map(str, args)], capture_output=True, text=True, timeout=120)
        if check:
                assert p.returncode == 0, f"skopeo {' '.join(map(str, args))}: {p.stderr}"
        return p


@pytest.fixture(scope="module")
def reg(module_daemon, tmp_path_factory, images):
        d = module_daemon
        d.cli("image", "import", images / "busybox.oci.tar")
        host = d.url.split("//", 1)[1]
        repo = tmp_path_factory.mktemp("reg-repo") / "web"
        commit(repo, {"Dockerfile": "FROM busybox:1\nCOPY hello /hello\nCMD [\"cat\", \"/hello\"]\n",
                      "hello": "hello from git\n"})
        d.cli("project", "create", "regp")
        d.cli("component", "create", "regp/web", "--git", repo)
        built = d.cli("build", "regp/web", "--follow")
        return d, host, built


def auth(d):
        return ("admin", d.token)


def test_skopeo_pulls_with_the_digest_unchanged(reg, tmp_path):
        d, host, built = reg
        for ref, digest in (("busybox:1", d.cli("image", "inspect", "busybox:1")["digest"]),
                            (built["image_ref"], built["image_digest"])):
                doc = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", f"admin:{d.token}",
                                        f"docker://{host}/{ref}").stdout)
                assert doc["Digest"] == digest, (ref, doc)
                out = tmp_path / ref.replace("/", "_").replace(":", "_")
                skopeo("copy", "--preserve-digests", "--src-tls-verify=false", "--src-creds", f"admin:{d.token}",
                       f"docker://{host}/{ref}", f"oci:{out}:x")
                assert json.loads(skopeo("inspect", f"oci:{out}:x").stdout)["Digest"] == digest
                # by digest too
                skopeo("inspect", "--tls-verify=false", "--creds", f"admin:{d.token}",
                       f"docker://{host}/{ref.split(':')[0]}@{digest}")


def test_wrong_or_missing_credentials_are_401(reg):
        d, host, _ = reg
        p = skopeo("inspect", "--tls-verify=false", "--creds", "admin:wrong", f"docker://{host}/busybox:1", check=False)
        assert p.returncode != 0 and "unauthorized" in p.stderr.lower(), p.stderr
        r = requests.get(f"{d.url}/v2/", timeout=10)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="slipway"'
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
        r = requests.get(f"{d.url}/v2/busybox/manifests/1", auth=("someone", d.token), timeout=10)
        assert r.status_code == 401
        assert requests.get(f"{d.url}/v2/", auth=auth(d), timeout=10).status_code == 200
        # The API's bearer token works here too.
        assert requests.get(f"{d.url}/v2/", headers={"Authorization": f"Bearer {d.token}"},
                            timeout=10).status_code == 200


def test_manifests_blobs_ranges_and_errors(reg):
        d, host, built = reg
        name, tag = built["image_ref"].split(":")
        r = requests.get(f"{d.url}/v2/{name}/manifests/{tag}", auth=auth(d), timeout=10,
                         headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == built["image_digest"]
        assert "sha256:" + hashlib.sha256(r.content).hexdigest() == built["image_digest"]
        assert int(r.headers["Content-Length"]) == len(r.content) and r.headers["Content-Type"]
        h = requests.head(f"{d.url}/v2/{name}/manifests/{tag}", auth=auth(d), timeout=10)
        assert h.status_code == 200 and h.headers["Content-Length"] == r.headers["Content-Length"] and not h.content
        layer = r.json()["layers"][0]
        b = requests.get(f"{d.url}/v2/{name}/blobs/{layer['digest']}", auth=auth(d), timeout=30)
        assert b.status_code == 200 and len(b.content) == layer["size"]
        assert "sha256:" + hashlib.sha256(b.content).hexdigest() == layer["digest"]
        part = requests.get(f"{d.url}/v2/{name}/blobs/{layer['digest']}", auth=auth(d), timeout=30,
                            headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == b.content[10:20]
        assert part.headers["Content-Range"] == f"bytes 10-19/{layer['size']}"
        bad = requests.get(f"{d.url}/v2/{name}/blobs/{layer['digest']}", auth=auth(d), timeout=30,
                           headers={"Range": f"bytes={layer['size'] + 5}-"})
        assert bad.status_code == 416
        tags = requests.get(f"{d.url}/v2/{name}/tags/list", auth=auth(d), timeout=10).json()
        assert tags == {"name": name, "tags": [tag]}
        for path, status, code in ((f"{name}/manifests/nope", 404, "MANIFEST_UNKNOWN"),
                                   (f"{name}/blobs/sha256:{'0' * 64}", 404, "BLOB_UNKNOWN"),
                                   (f"{name}/blobs/md5:abc", 400, "DIGEST_INVALID"),
                                   ("Bad_Name/manifests/x", 400, "NAME_INVALID"),
                                   ("nothere/tags/list", 404, "NAME_UNKNOWN"),
                                   # a digest of another repository's image is not this one's
                                   (f"busybox/manifests/{built['image_digest']}", 404, "MANIFEST_UNKNOWN")):
                e = requests.get(f"{d.url}/v2/{path}", auth=auth(d), timeout=10)
                assert e.status_code == status and e.json()["errors"][0]["code"] == code, (path, e.text)
        # Blobs are not deleted through the registry: gc removes them once no manifest uses them.
        gone = requests.delete(f"{d.url}/v2/{name}/blobs/{layer['digest']}", auth=auth(d), timeout=10)
        assert gone.status_code == 405 and gone.json()["errors"][0]["code"] == "UNSUPPORTED"


def test_a_built_image_carries_its_sbom_as_a_referrer(reg, tmp_path):
        d, host, built = reg
        name = built["image_ref"].split(":")[0]
        r = requests.get(f"{d.url}/v2/{name}/referrers/{built['image_digest']}", auth=auth(d), timeout=10)
        assert r.status_code == 200, r.text
        sboms = [m for m in r.json()["manifests"] if m.get("artifactType") == "application/vnd.cyclonedx+json"]
        assert len(sboms) == 1, r.json()
        art = requests.get(f"{d.url}/v2/{name}/manifests/{sboms[0]['digest']}", auth=auth(d), timeout=10).json()
        assert art["subject"]["digest"] == built["image_digest"]
        layer = art["layers"][0]
        blob = requests.get(f"{d.url}/v2/{name}/blobs/{layer['digest']}", auth=auth(d), timeout=10)
        # The attached document is the build's SBOM.
        assert json.loads(blob.content) == d.cli("build", "sbom", str(built["id"]))
        # It travels with the image: skopeo copies the artifact out by digest like any manifest.
        skopeo("copy", "--src-tls-verify=false", "--src-creds", f"admin:{d.token}",
               f"docker://{host}/{name}@{sboms[0]['digest']}", f"oci:{tmp_path / 'sbom'}:x")
