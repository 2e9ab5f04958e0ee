"""Issue 13, item 2: the pipeline's push step against a registry you own — Debian's docker-registry with
htpasswd (bcrypt) auth over TLS with a CA the test makes, and one with token auth (the Bearer flow Harbor and
GitLab use) whose token service is a small JWT issuer written here.  A git build pushes only the blobs the registry lacks
and skopeo sees the manifest digest our store has; a wrong password and an unknown CA fail the build at the push
step with one sentence (and no password anywhere); `registry list` never prints the password; a registry a
project pushes to cannot be removed; `vault rotate` keeps the password usable."""
import base64
import hashlib
import http.server
import json
import os
import ssl
import subprocess
import threading
import time
import uuid
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import requests

from conftest import assert_clean_error, free_port, wait_port
from git_util import commit

USER = "pusher"
PASSWORD = "s3cret-Push-Passw0rd"
WRONG = "wr0ng-Passw0rd-never-logged"
BUILD_TIMEOUT = 240


def run(*args, **kw):
        p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, **kw)
        assert p.returncode == 0, f"{' '.join(map(str, args))} failed:\n{p.stdout}\n{p.stderr}"
        return p.stdout


def make_ca_and_cert(d):
        """A test CA and a server certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1) signed by it."""
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d / "ca.key", "-out",
            d / "ca.crt", "-days", "2", "-subj", "/CN=Slipway test CA", "-addext",
            "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", d / "server.key", "-out",
            d / "server.csr", "-subj", "/CN=127.0.0.1")
        (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                   "extendedKeyUsage=serverAuth\n")
        run("openssl", "x509", "-req", "-in", d / "server.csr", "-CA", d / "ca.crt", "-CAkey", d / "ca.key",
            "-CAcreateserial", "-out", d / "server.crt", "-days", "2", "-extfile", d / "ext.cnf")


def start_registry(d, auth):
        """docker-registry serving d/data on 127.0.0.1:<free port> over TLS (d's test CA) with the auth section
        given; (process, port)."""
        port = free_port()
        (d / f"config-{port}.yml").write_text(f"""version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {d / 'data'}
http:
  addr: 127.0.0.1:{port}
  tls:
    certificate: {d / 'server.crt'}
    key: {d / 'server.key'}
auth:
{auth}""")
        logf = open(d / f"registry-{port}.log", "wb")
        p = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(d / f"config-{port}.yml")], stdout=logf,
                             stderr=subprocess.STDOUT)
        logf.close()
        if not wait_port(port, 20):
                p.kill()
                raise AssertionError(f"docker-registry did not listen:\n{(d / f'registry-{port}.log').read_text()}")
        return p, port


def stop(p):
        p.terminate()
        try:
                p.wait(10)
        except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory):
        """docker-registry on 127.0.0.1:<free port> over TLS (test CA) with htpasswd auth for USER."""
        for tool in ("/usr/bin/docker-registry", "/usr/bin/htpasswd", "/usr/bin/openssl", "/usr/bin/skopeo"):
                if not os.access(tool, os.X_OK):
                        pytest.skip(f"{tool} is not installed: run packaging/install-deps")
        d = tmp_path_factory.mktemp("tls-registry")
        make_ca_and_cert(d)
        (d / "certs").mkdir()
        (d / "certs" / "ca.crt").write_bytes((d / "ca.crt").read_bytes())  # skopeo --cert-dir
        (d / "htpasswd").write_text(run("htpasswd", "-Bbn", USER, PASSWORD))
        p, port = start_registry(d, f"""  htpasswd:
    realm: slipway-test
    path: {d / 'htpasswd'}
""")
        try:
                yield {"host": f"127.0.0.1:{port}", "url": f"https://127.0.0.1:{port}", "dir": d}
        finally:
                stop(p)


class TokenService(http.server.ThreadingHTTPServer):
        """The token service of a registry with token auth: GET /token?service=&scope=… with HTTP Basic USER and
        PASSWORD answers {"token": JWT} (RS256, signed with the server key, its certificate in x5c); anything else
        401.  requests records (scopes, whether Basic credentials came) of each call."""

        def __init__(self, d):
                super().__init__(("127.0.0.1", 0), TokenHandler)
                self.key = (d / "server.key").read_bytes()
                der = ssl.PEM_cert_to_DER_cert((d / "server.crt").read_text())
                self.x5c = [base64.b64encode(der).decode()]
                self.requests = []
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(d / "server.crt", d / "server.key")
                self.socket = ctx.wrap_socket(self.socket, server_side=True)


class TokenHandler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
                pass

        def reply(self, status, doc):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def do_GET(self):
                import jwt
                import urllib.parse

                url = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(url.query)
                creds = self.headers.get("Authorization", "")
                want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                self.server.requests.append((q.get("scope", []), creds.startswith("Basic ")))
                if url.path != "/token" or creds != want:
                        return self.reply(401, {"details": "invalid credentials"})
                access = []
                for scope in q.get("scope", []):
                        kind, name, actions = scope.split(":")
                        access.append({"type": kind, "name": name, "actions": actions.split(",")})
                now = int(time.time())
                claims = {"iss": "slipway-test-issuer", "sub": USER, "aud": q["service"][0], "iat": now,
                          "nbf": now - 10, "exp": now + 300, "jti": uuid.uuid4().hex, "access": access}
                token = jwt.encode(claims, self.server.key, algorithm="RS256", headers={"x5c": self.server.x5c})
                self.reply(200, {"token": token, "expires_in": 300})


@pytest.fixture(scope="module")
def token_registry(tls_registry):
        """A second docker-registry with token auth (realm: a TokenService over TLS with the same CA)."""
        pytest.importorskip("jwt")
        d = tls_registry["dir"]
        svc = TokenService(d)
        t = threading.Thread(target=svc.serve_forever, daemon=True)
        t.start()
        p, port = start_registry(d, f"""  token:
    realm: https://127.0.0.1:{svc.server_address[1]}/token
    service: slipway-test-registry
    issuer: slipway-test-issuer
    rootcertbundle: {d / 'ca.crt'}
""")
        try:
                yield {"host": f"127.0.0.1:{port}", "url": f"https://127.0.0.1:{port}", "dir": d, "service": svc}
        finally:
                stop(p)
                svc.shutdown()
                svc.server_close()


def api(d, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(d.url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {d.token}",
                                              "Content-Type": "application/json"})
        try:
                with urllib.request.urlopen(req, timeout=30) as r:
                        return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read() or b"null")


def raw(d, path):
        req = urllib.request.Request(d.url + path, headers={"Authorization": f"Bearer {d.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
                return r.read().decode(errors="replace")


def build_and_wait(d, target):
        project, name = target.split("/")
        st, b = api(d, "POST", f"/api/v1/projects/{project}/components/{name}/builds", {})
        assert st in (200, 202), b
        deadline = time.monotonic() + BUILD_TIMEOUT
        while b["status"] not in ("succeeded", "failed", "cancelled"):
                assert time.monotonic() < deadline, raw(d, f"/api/v1/builds/{b['id']}/logs")[-3000:]
                time.sleep(0.3)
                st, b = api(d, "GET", f"/api/v1/builds/{b['id']}")
                assert st == 200, b
        return b


def steps(b):
        return {s["name"]: s for s in b["steps"]}


def add_registry(d, name, url, *opts, password=None):
        return d.cli("registry", "add", name, url, *opts, input=password + "\n" if password else None)


def git_project(d, tmp_path, project, text):
        repo = tmp_path / f"{project}-src"
        commit(repo, {"Dockerfile": "FROM busybox:1\nCOPY hello /hello\nCMD [\"cat\", \"/hello\"]\n",
                      "hello": text + "\n"}, "first")
        d.cli("project", "create", project)
        d.cli("component", "create", f"{project}/web", "--git", repo)
        return repo


def remote_manifest(reg, ref):
        """(digest, manifest) of a pushed tag as skopeo reads it from the registry (CA and credentials; skopeo
        does the token flow itself)."""
        out = subprocess.run(["skopeo", "inspect", "--raw", "--cert-dir", str(reg["dir"] / "certs"), "--creds",
                              f"{USER}:{PASSWORD}", f"docker://{reg['host']}/{ref}"],
                             capture_output=True, timeout=120)
        assert out.returncode == 0, out.stderr.decode()
        return "sha256:" + hashlib.sha256(out.stdout).hexdigest(), json.loads(out.stdout)


def blobs_of(manifest):
        return {manifest["config"]["digest"]} | {layer["digest"] for layer in manifest["layers"]}


def everything_logged(d, build_ids):
        text = d.log()
        for bid in build_ids:
                text += raw(d, f"/api/v1/builds/{bid}/logs")
                text += json.dumps(api(d, "GET", f"/api/v1/builds/{bid}")[1])
        for f in Path(d.state_dir, "builds").rglob("*.log"):
                text += f.read_text(errors="replace")
        return text


@pytest.fixture(scope="module")
def pd(module_daemon, images):
        module_daemon.cli("image", "import", images / "busybox.oci.tar")
        return module_daemon


def test_registry_add_list_rm_and_refusals(pd, tls_registry):
        d, reg = pd, tls_registry
        doc = add_registry(d, "corp", reg["url"], "--username", USER, "--password-stdin", "--ca-file",
                           reg["dir"] / "ca.crt", password=PASSWORD)
        assert doc["name"] == "corp" and doc["url"] == reg["url"] and doc["username"] == USER
        assert doc["password_set"] is True and doc["custom_ca"] is True and doc["insecure"] is False
        assert PASSWORD not in json.dumps(doc)

        # list, in both forms, says a password is set and never shows it
        listed = d.cli("registry", "list")["registries"]
        assert [r["name"] for r in listed] == ["corp"] and listed[0]["password_set"] is True
        text = d.cli("registry", "list", json=False).stdout
        assert "corp" in text and reg["url"] in text and "set" in text and "custom" in text
        assert PASSWORD not in text and PASSWORD not in json.dumps(listed)
        assert PASSWORD not in d.log()

        # refusals, each one sentence
        p = d.cli("registry", "add", "corp", reg["url"], check=False)
        assert p.returncode == 1 and "already a registry named 'corp'" in p.stderr
        for name, url, opts, words in (
                ("plain", f"http://{reg['host']}", (), ("plain http", "--insecure")),
                ("path", f"{reg['url']}/v2/", (), ("path",)),
                ("nohttps", reg["host"], (), ("https://",)),
                ("Bad_Name", reg["url"], (), ("registry name", "lower-case")),
                ("_x", reg["url"], (), ("registry name",)),
                ("a" * 64, reg["url"], (), ("longer than 63",)),
                ("both", reg["url"], ("--ca-file", reg["dir"] / "ca.crt", "--insecure"), ("--insecure",)),
        ):
                p = d.cli("registry", "add", name, url, *opts, check=False)
                assert p.returncode != 0, (name, p.stdout)
                assert_clean_error(p, *words)
        p = d.cli("registry", "add", "nouser", reg["url"], "--password-stdin", check=False, input="x\n")
        assert p.returncode == 2 and "--username" in p.stderr
        p = d.cli("registry", "add", "cafile", reg["url"], "--ca-file", reg["dir"] / "ext.cnf", check=False)
        assert p.returncode == 1 and "PEM" in p.stderr
        assert [r["name"] for r in d.cli("registry", "list")["registries"]] == ["corp"]

        # an anonymous registry over http with --insecure is taken, and removed
        assert add_registry(d, "lab", f"http://{reg['host']}", "--insecure")["password_set"] is False
        assert d.cli("registry", "rm", "lab")["deleted"] == "lab"
        p = d.cli("registry", "rm", "lab", check=False)
        assert p.returncode == 1 and "no registry named 'lab'" in p.stderr


def test_project_set_stores_push_to_and_scan_fail_on(pd, tls_registry):
        d = pd
        d.cli("project", "create", "settings")
        p = d.cli("project", "set", "settings", "--push-to", "nosuch", check=False)
        assert p.returncode == 1
        assert "add it with slipway registry add" in assert_clean_error(p, "nosuch")
        p = d.cli("project", "set", "settings", "--scan-fail-on", "medium", check=False)
        assert p.returncode == 2 and "critical" in p.stderr
        p = d.cli("project", "set", "settings", "--push-to", "corp", "--no-push", check=False)
        assert p.returncode == 2
        doc = d.cli("project", "set", "settings", "--push-to", "corp", "--scan-fail-on", "high")
        assert doc["push_to"] == "corp" and doc["scan_fail_on"] == "high"
        (row,) = [x for x in d.cli("project", "list")["projects"] if x["name"] == "settings"]
        assert row["push_to"] == "corp" and row["scan_fail_on"] == "high"
        text = d.cli("project", "list", json=False).stdout
        assert text.splitlines()[0].split()[-2:] == ["PUSH-TO", "SCAN-FAIL-ON"]
        assert any(line.split()[0] == "settings" and "corp" in line and "high" in line for line in text.splitlines())
        doc = d.cli("project", "set", "settings", "--no-push")
        assert doc["push_to"] is None and doc["scan_fail_on"] == "high"


def test_builds_push_only_missing_blobs_with_the_same_digest(pd, tls_registry, tmp_path):
        d, reg = pd, tls_registry
        repo = git_project(d, tmp_path, "demo", "one")

        # no push_to: the step is skipped
        b0 = build_and_wait(d, "demo/web")
        assert b0["status"] == "succeeded", b0
        assert steps(b0)["push"]["status"] == "skipped" and b0["pushed_ref"] is None
        assert "=== step 7/9: push" in raw(d, f"/api/v1/builds/{b0['id']}/logs")

        d.cli("project", "set", "demo", "--push-to", "corp")
        commit(repo, {"hello": "two\n"}, "second")
        b1 = build_and_wait(d, "demo/web")
        assert b1["status"] == "succeeded", raw(d, f"/api/v1/builds/{b1['id']}/logs")
        assert steps(b1)["push"]["status"] == "succeeded"
        tag = b1["image_ref"].split(":")[1]
        assert b1["pushed_ref"] == f"{reg['host']}/demo/web:{tag}@{b1['image_digest']}"
        digest, manifest = remote_manifest(reg, f"demo/web:{tag}")
        assert digest == b1["image_digest"]
        log1 = raw(d, f"/api/v1/builds/{b1['id']}/logs?step=push")
        n1 = len(blobs_of(manifest))
        assert f"blobs: {n1} sent" in log1 and "0 already in the registry" in log1, log1
        # The SBOM the store step attached travels with the image, by its digest.
        refs = requests.get(f"{d.url}/v2/demo/web/referrers/{b1['image_digest']}", auth=("admin", d.token),
                            timeout=10).json()["manifests"]
        sbom = [m for m in refs if m.get("artifactType") == "application/vnd.cyclonedx+json"]
        assert len(sbom) == 1, refs
        art_digest, art = remote_manifest(reg, f"demo/web@{sbom[0]['digest']}")
        assert art_digest == sbom[0]["digest"] and art["subject"]["digest"] == b1["image_digest"]
        assert f"referrer {sbom[0]['digest']} (application/vnd.cyclonedx+json) pushed with the image" in log1
        shown = d.cli("build", "show", b1["id"], json=False).stdout
        assert f"Pushed:     {b1['pushed_ref']}" in shown
        assert d.cli("build", "show", b1["id"])["pushed_ref"] == b1["pushed_ref"]

        # a registry a project pushes to stays
        p = d.cli("registry", "rm", "corp", check=False)
        assert p.returncode == 1
        assert_clean_error(p, "corp", "demo", "--no-push")
        assert d.cli("registry", "list")["registries"][0]["projects"] == ["demo"]

        # after a key rotation the password still opens; the next commit sends only what is new
        assert d.cli("vault", "rotate")["rewrapped"] >= 1
        commit(repo, {"hello": "three\n"}, "third")
        b2 = build_and_wait(d, "demo/web")
        assert b2["status"] == "succeeded", raw(d, f"/api/v1/builds/{b2['id']}/logs")
        tag2 = b2["image_ref"].split(":")[1]
        digest2, manifest2 = remote_manifest(reg, f"demo/web:{tag2}")
        assert digest2 == b2["image_digest"] and tag2 != tag
        new = blobs_of(manifest2) - blobs_of(manifest)
        had = blobs_of(manifest2) & blobs_of(manifest)
        assert new and had  # a new layer and config; busybox's layer is shared
        log2 = raw(d, f"/api/v1/builds/{b2['id']}/logs?step=push")
        assert f"blobs: {len(new)} sent" in log2 and f"{len(had)} already in the registry" in log2, log2
        assert PASSWORD not in everything_logged(d, [b1["id"], b2["id"]])


def test_wrong_password_fails_the_push_step_with_the_registry_s_answer(pd, tls_registry, tmp_path):
        d, reg = pd, tls_registry
        add_registry(d, "corp-bad", reg["url"], "--username", USER, "--password-stdin", "--ca-file",
                     reg["dir"] / "ca.crt", password=WRONG)
        git_project(d, tmp_path, "badpw", "bad password")
        d.cli("project", "set", "badpw", "--push-to", "corp-bad")
        b = build_and_wait(d, "badpw/web")
        assert b["status"] == "failed"
        st = steps(b)
        assert st["store"]["status"] == "succeeded" and st["push"]["status"] == "failed"
        assert st["update"]["status"] == "skipped" and st["deploy"]["status"] == "skipped"
        tag = b["image_ref"].split(":")[1]
        want = f"Registry corp-bad refused the push of badpw/web:{tag}: 401 UNAUTHORIZED (authentication required)."
        assert b["reason"] == want and st["push"]["message"] == want
        assert want in raw(d, f"/api/v1/builds/{b['id']}/logs?step=push")
        assert b["pushed_ref"] is None
        shown = d.cli("build", "show", b["id"], json=False).stdout
        assert want in shown
        text = everything_logged(d, [b["id"]])
        assert WRONG not in text and PASSWORD not in text


def test_unknown_ca_is_a_tls_failure(pd, tls_registry, tmp_path):
        d, reg = pd, tls_registry
        add_registry(d, "noca", reg["url"], "--username", USER, "--password-stdin", password=PASSWORD)
        git_project(d, tmp_path, "noca", "no ca")
        d.cli("project", "set", "noca", "--push-to", "noca")
        b = build_and_wait(d, "noca/web")
        assert b["status"] == "failed" and steps(b)["push"]["status"] == "failed"
        tag = b["image_ref"].split(":")[1]
        reason = b["reason"]
        assert reason.startswith(f"Cannot push noca/web:{tag} to registry noca: its TLS certificate cannot be "
                                 "verified ("), reason
        assert "--ca-file" in reason and reason.endswith(".")
        assert PASSWORD not in everything_logged(d, [b["id"]])


def test_token_auth_registry_gets_a_bearer_token_and_the_push(pd, token_registry, tmp_path):
        d, reg = pd, token_registry
        svc = reg["service"]
        add_registry(d, "harbor", reg["url"], "--username", USER, "--password-stdin", "--ca-file",
                     reg["dir"] / "ca.crt", password=PASSWORD)
        git_project(d, tmp_path, "tokp", "token auth")
        d.cli("project", "set", "tokp", "--push-to", "harbor")
        svc.requests.clear()
        b = build_and_wait(d, "tokp/web")
        assert b["status"] == "succeeded", raw(d, f"/api/v1/builds/{b['id']}/logs")
        tag = b["image_ref"].split(":")[1]
        assert b["pushed_ref"] == f"{reg['host']}/tokp/web:{tag}@{b['image_digest']}"
        # The realm got the Basic credentials and was asked for a token that may push to the repository.
        assert svc.requests and all(basic for _, basic in svc.requests)
        assert any("repository:tokp/web:pull,push" in scopes for scopes, _ in svc.requests), svc.requests
        assert remote_manifest(reg, f"tokp/web:{tag}")[0] == b["image_digest"]

        # The token service refusing the password is the build's one sentence, with its own message.
        add_registry(d, "harbor-bad", reg["url"], "--username", USER, "--password-stdin", "--ca-file",
                     reg["dir"] / "ca.crt", password=WRONG)
        git_project(d, tmp_path, "tokbad", "token auth, wrong password")
        d.cli("project", "set", "tokbad", "--push-to", "harbor-bad")
        b = build_and_wait(d, "tokbad/web")
        assert b["status"] == "failed" and steps(b)["push"]["status"] == "failed"
        tag = b["image_ref"].split(":")[1]
        assert b["reason"] == (f"Registry harbor-bad refused the push of tokbad/web:{tag}: 401 Unauthorized "
                               "(invalid credentials)."), b["reason"]
        assert WRONG not in everything_logged(d, [b["id"]])
