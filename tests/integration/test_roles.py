"""Issue 14, users and roles: `slipway user add|list|rm|passwd`, and roles enforced by the API for every
caller alike.  A viewer reads everything and changes nothing (403 with one sentence); a developer builds,
cancels builds, deploys, sets config values and makes its own tokens, but creates no project and adds no
user; the last admin cannot be removed; a removed user's tokens are refused at once; `user passwd` changes
what logs in to the console.  Tokens of other users are made with `token create NAME --user USER`."""
import json
import re
import subprocess

import pytest
import requests

from conftest import assert_clean_error
from deploy_util import build_image, make_site, running_deploy_daemon
from git_util import commit
from test_git_builds import site_files, wait_build

pytestmark = pytest.mark.slow

FORBIDDEN = "may not do this; ask an admin."


def remote(d, token, *args, json_out=True, check=True, input=None):
        """`slipway --url URL --token TOKEN [--json] ARGS`, as a user on another machine runs it."""
        p = subprocess.run([str(d.build.slipway), "--url", d.url, "--token", token]
                           + (["--json"] if json_out else []) + [str(a) for a in args],
                           capture_output=True, text=True, timeout=180, input=input)
        if check:
                assert p.returncode == 0, f"slipway {' '.join(map(str, args))}: {p.stderr}"
                return json.loads(p.stdout) if json_out and p.stdout.strip() else p
        return p


def api(d, method, path, token, body=None):
        return requests.request(method, f"{d.url}/api/v1/{path}", json=body, timeout=60,
                                headers={"Authorization": f"Bearer {token}"})


def login(d, name, password):
        return requests.post(f"{d.url}/api/v1/session", json={"name": name, "password": password}, timeout=30)


def add_user(d, name, role, password=None):
        """`slipway user add` (with the password on stdin when given); the user's token made by the admin."""
        if password is None:
                d.cli("user", "add", name, "--role", role)
        else:
                d.cli("user", "add", name, "--role", role, "--password-stdin", input=password + "\n")
        doc = d.cli("token", "create", "cli", "--user", name)
        assert doc["user"] == name and re.fullmatch(r"[0-9a-f]{64}", doc["token"])
        return doc["token"]


def assert_forbidden(r, role):
        assert r.status_code == 403, r.text
        assert r.json()["error"] == f"Your role ({role}) {FORBIDDEN}" and r.json()["hint"], r.text


@pytest.fixture(scope="module")
def rd(build_dir, images, tmp_path_factory):
        """A daemon with project shop (component web: the busybox site, image web:1), a git component
        shop/src, and users dev (developer) and view (viewer) with a token each (d.dev, d.view)."""
        root = tmp_path_factory.mktemp("roles")
        with running_deploy_daemon(build_dir, root / "state", images) as d:
                build_image(d, make_site(root / "v1", "hello v1"), "web:1")
                d.cli("project", "create", "shop")
                d.cli("component", "create", "shop/web", "--image", "web:1", "--health", "http:/healthz")
                repo = root / "repo"
                commit(repo, site_files("from git"), "first")
                d.cli("component", "create", "shop/src", "--git", repo)
                d.dev = add_user(d, "dev", "developer", "dev-password-1")
                d.view = add_user(d, "view", "viewer", "view-password-1")
                yield d


def test_user_add_list_and_bad_input(rd):
        d = rd
        # without --password-stdin a password is made and printed once, alone on stdout
        p = d.cli("user", "add", "carol", "--role", "viewer", json=False)
        made = p.stdout.strip()
        assert re.fullmatch(r"[A-Za-z0-9_-]{20}", made), p.stdout
        assert "only this once" in p.stderr
        assert login(d, "carol", made).status_code == 200
        users = {u["name"]: u for u in d.cli("user", "list")["users"]}
        assert {"admin", "dev", "view", "carol"} <= set(users)
        assert users["admin"]["role"] == "admin" and users["dev"]["role"] == "developer"
        assert users["dev"]["tokens"] == 1 and users["carol"]["tokens"] == 0
        assert users["carol"]["has_password"] is True and users["admin"]["has_password"] is False
        for u in users.values():
                assert set(u) == {"name", "role", "created_at", "tokens", "has_password"}
        human = d.cli("user", "list", json=False).stdout
        assert re.search(r"^dev\s+developer\s+\S+ \S+\s+1\s+set$", human, re.M), human
        # never a hash, never a password, in either form
        for out in (json.dumps(users), human):
                assert "argon2" not in out and made not in out and "dev-password-1" not in out

        again = d.cli("user", "add", "carol", "--role", "admin", check=False)
        assert_clean_error(again, "already exists")
        assert d.cli("user", "list")["users"] and users["carol"]["role"] == "viewer"
        p = d.cli("user", "add", "x", "--role", "root", check=False)
        assert p.returncode == 2 and "--role" in p.stderr
        p = d.cli("user", "add", "x", check=False)
        assert p.returncode == 2 and "--role" in p.stderr
        for name in ("Bad", "-x", "a/b", "x" * 64):
                r = api(d, "POST", "users", d.token, {"name": name, "role": "viewer"})
                assert r.status_code == 400 and r.json()["error"] and r.json()["hint"], (name, r.text)
        for body in ({"name": "ok", "role": "viewer", "password": "short"},
                     {"name": "ok", "role": "viewer", "password": "tab\there-long"},
                     {"name": "ok", "role": "viewer", "password": 12345678},
                     {"name": "ok", "role": "superuser"}, {"name": "ok"}, {"name": "ok", "role": "viewer", "x": 1}):
                r = api(d, "POST", "users", d.token, body)
                assert r.status_code == 400 and r.json()["error"] and r.json()["hint"], (body, r.text)
        p = d.cli("user", "add", "ok", "--role", "viewer", "--password-stdin", input="short\n", check=False)
        assert_clean_error(p, "too short")
        assert "ok" not in {u["name"] for u in d.cli("user", "list")["users"]}


def test_viewer_reads_and_every_write_is_refused(rd):
        d = rd
        v = d.view
        assert remote(d, v, "status")["daemon"]["pid"] == d.pid
        assert "shop" in {p["name"] for p in remote(d, v, "project", "list")["projects"]}
        assert remote(d, v, "component", "show", "shop/web")["name"] == "web"
        assert "configs" in remote(d, v, "config", "list", "shop/web", "development")
        assert "tokens" in remote(d, v, "token", "list")
        # writes of every kind: 403 with the one sentence, and nothing changed
        writes = [("POST", "projects", {"name": "vp"}),
                  ("DELETE", "projects/shop", None),
                  ("PUT", "projects/shop/components/web/environments/development/configs/K", {"value": "v"}),
                  ("POST", "projects/shop/components/web/deploy", {"environment": "development"}),
                  ("POST", "projects/shop/components/src/builds", {}),
                  ("PUT", "projects/shop/components/src/autobuild", {"enabled": True}),
                  ("POST", "tokens", {"name": "mine"}),
                  ("POST", "users", {"name": "eve", "role": "admin"}),
                  ("GET", "users", None),
                  ("DELETE", "users/admin", None),
                  ("PUT", "users/dev/password", {"password": "takeover-123"}),
                  ("POST", "vault/rotate", None),
                  ("POST", "images/gc", None)]
        for method, path, body in writes:
                assert_forbidden(api(d, method, path, v, body), "viewer")
        assert "vp" not in {p["name"] for p in d.cli("project", "list")["projects"]}
        assert "eve" not in {u["name"] for u in d.cli("user", "list")["users"]}
        assert d.cli("config", "list", "shop/web", "development")["configs"] == []
        # the CLI says it as one clean sentence
        assert_clean_error(remote(d, v, "project", "create", "vp2", check=False), "your role (viewer)", "ask an admin")
        assert_clean_error(remote(d, v, "user", "list", check=False), "your role (viewer)")
        # but a viewer may change its own password
        r = api(d, "PUT", "users/view/password", v, {"password": "view-password-2"})
        assert r.status_code == 200 and "password" not in r.json(), r.text
        assert login(d, "view", "view-password-2").status_code == 200


def test_developer_builds_deploys_and_sets_config_but_creates_no_project(rd):
        d = rd
        dev = d.dev
        doc = remote(d, dev, "config", "set", "shop/web", "development", "GREETING=hi")
        assert doc
        assert {c["key"] for c in d.cli("config", "list", "shop/web", "development")["configs"]} == {"GREETING"}
        remote(d, dev, "config", "unset", "shop/web", "development", "GREETING")
        rel = remote(d, dev, "deploy", "shop/web", "development", "--image", "web:1")
        assert rel["status"] == "live", rel
        b = api(d, "POST", "projects/shop/components/src/builds", dev, {})
        assert b.status_code == 202, b.text
        c = remote(d, dev, "build", "cancel", str(b.json()["id"]), json_out=False, check=False)
        assert c.returncode == 0 or "finished" in c.stderr or "already" in c.stderr, c.stderr
        assert wait_build(d, b.json()["id"])["status"] in ("cancelled", "succeeded", "failed")
        assert remote(d, dev, "autobuild", "shop/src", "on", json_out=False).returncode == 0
        # its own tokens, and not another's
        mine = remote(d, dev, "token", "create", "laptop")
        assert mine["user"] == "dev"
        assert_forbidden(api(d, "POST", "tokens", dev, {"name": "x", "user": "admin"}), "developer")
        assert_clean_error(remote(d, dev, "token", "create", "y", "--user", "view", check=False), "developer")
        # admin work is refused
        for method, path, body in [("POST", "projects", {"name": "devp"}),
                                   ("POST", "projects/shop/environments", {"name": "qa"}),
                                   ("POST", "projects/shop/components", {"name": "x", "image": "web:1"}),
                                   ("PATCH", "projects/shop", {"scan_fail_on": "none"}),
                                   ("POST", "registries", {"name": "r", "url": "https://r.example"}),
                                   ("POST", "users", {"name": "x", "role": "admin"}),
                                   ("DELETE", "users/view", None),
                                   ("POST", "vault/rotate", None),
                                   ("POST", "projects/shop/components/src/webhook/rotate", None)]:
                assert_forbidden(api(d, method, path, dev, body), "developer")
        p = remote(d, dev, "project", "create", "devp", check=False)
        assert_clean_error(p, "your role (developer) may not do this")
        assert "devp" not in {x["name"] for x in d.cli("project", "list")["projects"]}
        assert {e["name"] for e in d.cli("env", "list", "shop")["environments"]} == {"development", "production"}


def test_last_admin_cannot_be_removed_and_removal_is_immediate(rd):
        d = rd
        p = d.cli("user", "rm", "admin", check=False)
        assert_clean_error(p, "last admin")
        assert "admin" in {u["name"] for u in d.cli("user", "list")["users"]}
        # a second admin can remove the first; then it is the last one
        boss = add_user(d, "boss", "admin", "boss-password-1")
        gone = add_user(d, "temp", "developer", "temp-password-1")
        assert login(d, "temp", "temp-password-1").status_code == 200
        assert remote(d, gone, "status")["daemon"]
        out = remote(d, boss, "user", "rm", "temp", json_out=False).stdout
        assert "Removed user temp" in out
        # its token and its password are refused at once
        assert api(d, "GET", "status", gone).status_code == 401
        assert login(d, "temp", "temp-password-1").status_code == 401
        assert_clean_error(remote(d, boss, "user", "rm", "temp", check=False), "no user named 'temp'")
        # boss removes admin (admin.token goes with it) and cannot remove itself, the last admin
        assert api(d, "DELETE", "users/admin", boss).status_code == 200
        assert api(d, "GET", "status", d.token).status_code == 401
        r = api(d, "DELETE", "users/boss", boss)
        assert r.status_code == 409 and "last admin" in r.json()["error"], r.text
        # put things back as the other tests expect them: admin again (admin.token after a restart)
        api(d, "POST", "users", boss, {"name": "admin", "role": "admin"})
        d.stop()
        d.start()
        assert d.cli("status")["daemon"]["pid"] == d.pid


def test_passwd_changes_what_logs_in(rd):
        d = rd
        d.cli("user", "add", "pat", "--role", "developer", "--password-stdin", input="first-password\n")
        assert login(d, "pat", "first-password").status_code == 200
        # an admin sets anyone's: the old one stops working, the new one works
        out = d.cli("user", "passwd", "pat", "--password-stdin", input="second-password\n", json=False).stdout
        assert "Set the password of user pat" in out
        assert login(d, "pat", "first-password").status_code == 401
        assert login(d, "pat", "second-password").status_code == 200
        # without --password-stdin one is made and printed once
        p = d.cli("user", "passwd", "pat", json=False)
        made = p.stdout.strip()
        assert re.fullmatch(r"[A-Za-z0-9_-]{20}", made) and "only this once" in p.stderr
        assert login(d, "pat", made).status_code == 200
        assert login(d, "pat", "second-password").status_code == 401
        # a developer may set its own, not another's
        tok = d.cli("token", "create", "t", "--user", "pat")["token"]
        assert remote(d, tok, "user", "passwd", "pat", "--password-stdin", input="third-password\n",
                      json_out=False).returncode == 0
        assert login(d, "pat", "third-password").status_code == 200
        assert_forbidden(api(d, "PUT", "users/dev/password", tok, {"password": "hijacked-1"}), "developer")
        assert login(d, "dev", "hijacked-1").status_code == 401
        assert_clean_error(d.cli("user", "passwd", "nobody", check=False), "no user named 'nobody'")
