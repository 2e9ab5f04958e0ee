"""Issue 13, auth part: users' API tokens.  `slipway token create` prints a token once and it works for the API
(`slipway --url URL --token T`) and as the registry password of its user (skopeo --creds admin:T); list never
shows it; revoke and expiry refuse it at once (401); a read-only token reads and pulls but writes nothing
(403); names are unique per user (409); tokens live in the database, so a restart keeps them; the registry
serves pulls without credentials only with `slipwayd --registry-anonymous-pull`."""
import json
import re
import subprocess
import time

import pytest
import requests

from conftest import assert_clean_error
from git_util import commit


def remote(d, token, *args, json_out=True, check=True):
        """`slipway --url URL --token TOKEN [--json] ARGS` as a remote user runs it (no state dir)."""
        p = subprocess.run([str(d.build.slipway), "--url", d.url, "--token", token]
                           + (["--json"] if json_out else []) + [str(a) for a in args],
                           capture_output=True, text=True, timeout=120)
        if check:
                assert p.returncode == 0, f"slipway {' '.join(map(str, args))}: {p.stderr}"
                return json.loads(p.stdout) if json_out else p
        return p


def create(d, name, *opts):
        doc = d.cli("token", "create", name, *opts)
        assert re.fullmatch(r"[0-9a-f]{64}", doc["token"]), doc
        assert doc["name"] == name and doc["user"] == "admin"
        return doc


def api(d, method, path, token, body=None):
        return requests.request(method, f"{d.url}/api/v1/{path}", json=body, timeout=30,
                                headers={"Authorization": f"Bearer {token}"})


def skopeo(*args, check=True):
        p = subprocess.run(["skopeo", *map(str, args)], capture_output=True, text=True, timeout=120)
        if check:
                assert p.returncode == 0, f"skopeo {' '.join(map(str, args))}: {p.stderr}"
        return p


def test_create_use_list_revoke(module_daemon):
        d = module_daemon
        made = create(d, "laptop")
        tok = made["token"]
        assert made["read_only"] is False and made["expires_at"] is None
        assert remote(d, tok, "status")["daemon"]["pid"] == d.pid
        # the human form prints the token alone on stdout, so `T=$(slipway token create X)` works
        p = d.cli("token", "create", "script", json=False)
        assert re.fullmatch(r"[0-9a-f]{64}\n", p.stdout), p.stdout
        assert "only this once" in p.stderr
        assert remote(d, p.stdout.strip(), "project", "list")["projects"] is not None

        listed = d.cli("token", "list")
        names = {t["name"]: t for t in listed["tokens"]}
        assert {"laptop", "script"} <= set(names)
        for t in listed["tokens"]:
                assert set(t) == {"name", "user", "read_only", "created_at", "expires_at", "last_used_at", "expired"}
        # no secret in the list, in either form
        human = d.cli("token", "list", json=False).stdout
        for out in (json.dumps(listed), human):
                assert tok not in out and p.stdout.strip() not in out
        assert "laptop" in human and "never" in human
        # used just now: its last use is recorded (lazily, but the first use is written at once)
        assert names["laptop"]["last_used_at"] and names["laptop"]["last_used_at"] >= made["created_at"]
        assert names["laptop"]["expired"] is False

        out = d.cli("token", "revoke", "laptop", json=False).stdout
        assert "Revoked" in out
        refused = remote(d, tok, "status", check=False)
        assert_clean_error(refused, "refused", "token")
        assert api(d, "GET", "status", tok).status_code == 401
        assert "laptop" not in {t["name"] for t in d.cli("token", "list")["tokens"]}
        # revoking again: nothing of that name
        again = d.cli("token", "revoke", "laptop", check=False)
        assert_clean_error(again, "no API token named 'laptop'")
        # the admin token is untouched by all this
        assert d.cli("status")["daemon"]["pid"] == d.pid


def test_expired_token_is_refused(module_daemon):
        d = module_daemon
        made = create(d, "short", "--expires", "2s")
        assert made["expires_at"] - made["created_at"] in (2, 3)
        assert remote(d, made["token"], "status")["daemon"]
        time.sleep(3.2)
        r = api(d, "GET", "status", made["token"])
        assert r.status_code == 401 and "expired" in r.json()["error"] and r.json()["hint"]
        assert_clean_error(remote(d, made["token"], "status", check=False), "expired")
        short = next(t for t in d.cli("token", "list")["tokens"] if t["name"] == "short")
        assert short["expired"] is True
        assert "(expired)" in d.cli("token", "list", json=False).stdout
        # the registry refuses it too
        r = requests.get(f"{d.url}/v2/", auth=("admin", made["token"]), timeout=10)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="slipway"'
        # long expiries in days are taken
        assert create(d, "month", "--expires", "30d")["expires_at"] - time.time() > 29 * 86400


def test_read_only_token_reads_but_does_not_write(module_daemon):
        d = module_daemon
        ro = create(d, "viewer", "--read-only")["token"]
        assert remote(d, ro, "status")["daemon"]
        assert "projects" in remote(d, ro, "project", "list")
        assert "tokens" in remote(d, ro, "token", "list")
        p = remote(d, ro, "project", "create", "rop", check=False)
        assert_clean_error(p, "read-only")
        assert "rop" not in {x["name"] for x in d.cli("project", "list")["projects"]}
        r = api(d, "POST", "projects", ro, {"name": "rop"})
        assert r.status_code == 403 and "read-only" in r.json()["error"] and r.json()["hint"]
        # a read-only token cannot mint a writable one, nor revoke tokens
        assert api(d, "POST", "tokens", ro, {"name": "escalate"}).status_code == 403
        assert api(d, "DELETE", "tokens/viewer", ro).status_code == 403
        assert "escalate" not in {t["name"] for t in d.cli("token", "list")["tokens"]}


def test_duplicate_and_bad_requests(module_daemon):
        d = module_daemon
        create(d, "ci")
        r = api(d, "POST", "tokens", d.token, {"name": "ci"})
        assert r.status_code == 409 and "already have an API token named 'ci'" in r.json()["error"], r.text
        assert "token" not in r.json()
        assert_clean_error(d.cli("token", "create", "ci", check=False), "already")
        for body in ({"name": "Bad"}, {"name": "-x"}, {"name": ""}, {"name": "x" * 64}, {"name": "a/b"},
                     {"name": "ok", "expires_in_sec": 0}, {"name": "ok", "expires_in_sec": "1d"},
                     {"name": "ok", "read_only": "yes"}, {"name": "ok", "owner": "root"}, {}):
                r = api(d, "POST", "tokens", d.token, body)
                assert r.status_code == 400 and r.json()["error"] and r.json()["hint"], (body, r.text)
        assert "ok" not in {t["name"] for t in d.cli("token", "list")["tokens"]}
        # a 63-character name with dots and dashes is fine
        create(d, "a" + "b.c_d-e" * 8 + "f" * 6)
        p = d.cli("token", "create", "x", "--expires", "soon", check=False)
        assert p.returncode == 2 and "--expires" in p.stderr


def test_tokens_survive_a_restart(start_daemon):
        d = start_daemon()
        rw = create(d, "keep")["token"]
        ro = create(d, "keep-ro", "--read-only")["token"]
        gone = create(d, "gone")["token"]
        d.cli("token", "revoke", "gone")
        d.stop()
        d.start()
        assert remote(d, rw, "status")["daemon"]["pid"] == d.pid
        assert api(d, "GET", "status", gone).status_code == 401
        assert api(d, "POST", "projects", ro, {"name": "nope"}).status_code == 403
        assert api(d, "GET", "projects", ro).status_code == 200
        assert {t["name"] for t in d.cli("token", "list")["tokens"]} == {"keep", "keep-ro"}


# --- the registry


@pytest.fixture(scope="module")
def reg(module_daemon, images):
        d = module_daemon
        d.cli("image", "import", images / "busybox.oci.tar")
        return d, d.url.split("//", 1)[1], d.cli("image", "inspect", "busybox:1")["digest"]


def test_registry_login_is_user_name_and_token(reg, tmp_path):
        d, host, digest = reg
        tok = create(d, "puller")["token"]
        doc = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", f"admin:{tok}",
                                f"docker://{host}/busybox:1").stdout)
        assert doc["Digest"] == digest
        skopeo("copy", "--preserve-digests", "--src-tls-verify=false", "--src-creds", f"admin:{tok}",
               f"docker://{host}/busybox:1", f"oci:{tmp_path / 'out'}:x")
        assert json.loads(skopeo("inspect", f"oci:{tmp_path / 'out'}:x").stdout)["Digest"] == digest
        # a wrong token, or the right token under another user name, is 401
        for creds in (f"admin:{tok[:-1]}0" if tok[-1] != "0" else f"admin:{tok[:-1]}1", f"someone:{tok}"):
                p = skopeo("inspect", "--tls-verify=false", "--creds", creds, f"docker://{host}/busybox:1",
                           check=False)
                assert p.returncode != 0 and "unauthorized" in p.stderr.lower(), p.stderr
        r = requests.get(f"{d.url}/v2/", auth=("someone", tok), timeout=10)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="slipway"'
        assert "user name" in r.json()["errors"][0]["detail"]
        # a revoked token is refused by the registry as well
        d.cli("token", "revoke", "puller")
        assert requests.get(f"{d.url}/v2/", auth=("admin", tok), timeout=10).status_code == 401


def test_read_only_token_pulls_but_may_not_push(reg, tmp_path):
        d, host, digest = reg
        ro = create(d, "ro-pull", "--read-only")["token"]
        skopeo("copy", "--src-tls-verify=false", "--src-creds", f"admin:{ro}", f"docker://{host}/busybox:1",
               f"oci:{tmp_path / 'ro'}:x")
        assert json.loads(skopeo("inspect", f"oci:{tmp_path / 'ro'}:x").stdout)["Digest"] == digest
        r = requests.post(f"{d.url}/v2/busybox/blobs/uploads/", auth=("admin", ro), timeout=10)
        assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED", r.text
        # without credentials the registry is closed unless anonymous pull is on
        assert requests.get(f"{d.url}/v2/busybox/manifests/1", timeout=10).status_code == 401
        p = skopeo("inspect", "--tls-verify=false", "--no-creds", f"docker://{host}/busybox:1", check=False)
        assert p.returncode != 0 and "unauthorized" in p.stderr.lower(), p.stderr


def test_anonymous_pull(build_dir, tmp_path_factory, images, tmp_path):
        from conftest import Daemon
        d = Daemon(build_dir, tmp_path_factory.mktemp("slipway-anon") / "state")
        d.extra_args = ["--registry-anonymous-pull"]
        d.start()
        try:
                d.cli("image", "import", images / "busybox.oci.tar")
                digest = d.cli("image", "inspect", "busybox:1")["digest"]
                host = d.url.split("//", 1)[1]
                doc = json.loads(skopeo("inspect", "--tls-verify=false", "--no-creds",
                                        f"docker://{host}/busybox:1").stdout)
                assert doc["Digest"] == digest
                skopeo("copy", "--src-tls-verify=false", "--src-no-creds", f"docker://{host}/busybox:1",
                       f"oci:{tmp_path / 'anon'}:x")
                assert json.loads(skopeo("inspect", f"oci:{tmp_path / 'anon'}:x").stdout)["Digest"] == digest
                assert requests.head(f"{d.url}/v2/busybox/manifests/1", timeout=10).status_code == 200
                # writes still need a push token, wrong credentials are still refused, the API stays closed
                r = requests.post(f"{d.url}/v2/busybox/blobs/uploads/", timeout=10)
                assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="slipway"'
                assert requests.delete(f"{d.url}/v2/busybox/manifests/1", timeout=10).status_code == 401
                assert requests.get(f"{d.url}/v2/", auth=("admin", "wrong"), timeout=10).status_code == 401
                assert requests.get(f"{d.url}/api/v1/status", timeout=10).status_code == 401
                # logged-in pulls work as before
                assert requests.get(f"{d.url}/v2/", auth=("admin", d.token), timeout=10).status_code == 200
        finally:
                d.stop()


def test_a_build_names_the_user_who_asked(reg, tmp_path):
        d, _, _ = reg
        tok = create(d, "builder")["token"]
        repo = tmp_path / "web"
        commit(repo, {"Dockerfile": "FROM busybox:1\nCMD [\"true\"]\n"})
        d.cli("project", "create", "tokp")
        d.cli("component", "create", "tokp/web", "--git", repo)
        built = remote(d, tok, "build", "tokp/web", "--follow")
        assert built["status"] == "succeeded" and built["trigger"] == "manual"
        assert built["requested_by"] == "admin", built
