"""Issue 15, build secrets from the vault: `slipway config set PROJECT/COMP --build KEY=VALUE --secret` (and
--from-file), `config list … --build`, `config unset … --build KEY`; sealed like config values (never in an
API answer, the CLI's output or slipway.db in plaintext; re-sealed by `vault rotate`); the same roles as other
config writes.  A git component whose Dockerfile mounts the secret (RUN --mount=type=secret,id=TOKEN,
required=true) builds through the pipeline, and the secret's bytes are in no layer, config, history, build log
or file under the state dir; a required secret that is not set fails the build with a sentence naming its id
and `config set … --build`."""
import base64
import gzip
import hashlib
import json
import os
import secrets
import sqlite3
import subprocess
from pathlib import Path

import pytest
import requests

from deploy_util import running_deploy_daemon
from git_util import commit
from test_git_builds import raw, wait_build
from test_roles import add_user, api as role_api, assert_forbidden, remote

pytestmark = pytest.mark.slow


def secret_dockerfile(value, extra=""):
        """A Dockerfile whose build needs the secret TOKEN to be exactly value, checked by its hash (the value
        itself is in no file of the repository), and which prints it (the log must show it scrubbed)."""
        digest = hashlib.sha256(value.encode()).hexdigest()
        return ("FROM busybox:1\n"
                "RUN --mount=type=secret,id=TOKEN,required=true "
                f"test \"$(sha256sum < /run/secrets/TOKEN | cut -d' ' -f1)\" = {digest}\n"
                "RUN --mount=type=secret,id=TOKEN cat /run/secrets/TOKEN; echo; ls -la /run/secrets/ || true\n"
                f"{extra}"
                "RUN echo built > /built\n"
                "CMD [\"cat\", \"/built\"]\n")


def build_secrets(d, target, token=None):
        project, comp = target.split("/")
        r = requests.get(f"{d.url}/api/v1/projects/{project}/components/{comp}/build-secrets", timeout=30,
                         headers={"Authorization": f"Bearer {token or d.token}"})
        assert r.status_code == 200, r.text
        return r


def walk_files(root):
        for dirpath, _, files in os.walk(root):
                for f in files:
                        p = Path(dirpath) / f
                        if p.is_file() and not p.is_symlink():
                                yield p


def needles(value):
        v = value.encode()
        return [v, base64.b64encode(v), v.hex().encode(), value.encode("utf-16-le")]


def files_holding(paths, value):
        """The files among paths whose bytes (or, for gzip files such as layer blobs, whose decompressed
        bytes) hold value in any of the forms needles() gives."""
        hits = []
        ns = needles(value)
        for f in paths:
                try:
                        data = f.read_bytes()
                except OSError:
                        continue
                if data[:2] == b"\x1f\x8b":
                        try:
                                data += gzip.decompress(data)
                        except (OSError, EOFError):
                                pass
                if any(n in data for n in ns):
                        hits.append(str(f))
        return hits


@pytest.fixture(scope="module")
def bd(build_dir, images, tmp_path_factory):
        root = tmp_path_factory.mktemp("build-secrets")
        with running_deploy_daemon(build_dir, root / "state", images,
                                   extra_args=("--build-timeout", "120s")) as d:
                d.root = root
                d.cli("project", "create", "sec")
                repo = root / "repo"
                commit(repo, {"Dockerfile": secret_dockerfile("unused")}, "first")
                d.cli("component", "create", "sec/app", "--git", repo)
                d.cli("component", "create", "sec/other", "--git", repo)
                yield d


def test_set_list_unset_from_the_cli(bd):
        d = bd
        value = "tok-" + secrets.token_hex(16)
        p = d.cli("config", "set", "sec/app", "--build", f"NPM_TOKEN={value}", "--secret", json=False)
        assert p.returncode == 0 and "Set build secret NPM_TOKEN of sec/app, version 1" in p.stdout, p.stdout
        assert "id=NPM_TOKEN" in p.stdout and value not in p.stdout + p.stderr
        doc = d.cli("config", "set", "sec/app", "--build", f"NPM_TOKEN={value}-2", "--secret")
        assert doc["build_secret"]["key"] == "NPM_TOKEN" and doc["build_secret"]["version"] == 2
        assert doc["build_secret"]["secret"] is True and "value" not in doc["build_secret"]
        local = d.root / "npmrc"
        local.write_text(f"//registry/:_authToken={value}\n")
        doc = d.cli("config", "set", "sec/app", "--build", ".npmrc", "--from-file", local, "--secret")
        assert doc["build_secret"]["version"] == 1 and doc["build_secret"]["size"] == local.stat().st_size

        listed = d.cli("config", "list", "sec/app", "--build")
        assert [(s["key"], s["version"]) for s in listed["build_secrets"]] == [(".npmrc", 1), ("NPM_TOKEN", 2)]
        assert all(set(s) == {"key", "version", "size", "set_at", "key_version", "secret"}
                   for s in listed["build_secrets"]), listed
        table = d.cli("config", "list", "sec/app", "--build", json=False).stdout
        assert table.split("\n")[0].split() == ["KEY", "VERSION", "SET"], table
        assert "NPM_TOKEN" in table and value not in table
        # A component's build secrets are its own.
        assert d.cli("config", "list", "sec/other", "--build")["build_secrets"] == []
        # They are not config values of any environment.
        for env in ("development", "production"):
                assert d.cli("config", "list", "sec/app", env)["configs"] == []

        p = d.cli("config", "unset", "sec/app", "--build", "NPM_TOKEN", json=False)
        assert p.returncode == 0 and "Unset build secret NPM_TOKEN of sec/app (version 3)" in p.stdout, p.stdout
        assert [s["key"] for s in d.cli("config", "list", "sec/app", "--build")["build_secrets"]] == [".npmrc"]
        p = d.cli("config", "unset", "sec/app", "--build", "NPM_TOKEN", check=False)
        assert p.returncode == 1 and "sec/app has no build secret NPM_TOKEN" in p.stderr, p.stderr
        # Set again after an unset: the next version.
        doc = d.cli("config", "set", "sec/app", "--build", f"NPM_TOKEN={value}", "--secret")
        assert doc["build_secret"]["version"] == 4
        d.cli("config", "unset", "sec/app", "--build", "NPM_TOKEN")
        d.cli("config", "unset", "sec/app", "--build", ".npmrc")


def test_cli_and_api_refusals(bd):
        d = bd
        # Without --secret: build args are not set here, and nothing is stored.
        p = d.cli("config", "set", "sec/app", "--build", "VERSION=1.2", check=False)
        assert p.returncode == 2 and "--secret" in p.stderr and "ARG" in p.stderr, p.stderr
        # A build secret has no environment, no file path, no deploy; it belongs to a component.
        for args in (["sec/app", "development", "--build", "K=v", "--secret"],
                     ["sec/app", "--build", "K=v", "--secret", "--file", "/run/k"],
                     ["sec/app", "--build", "K=v", "--secret", "--deploy"],
                     ["sec", "--build", "K=v", "--secret"]):
                p = d.cli("config", "set", *args, check=False)
                assert p.returncode == 2 and p.stderr.strip(), (args, p.stderr)
        p = d.cli("config", "list", "sec/app", "development", "--build", check=False)
        assert p.returncode == 2
        assert d.cli("config", "list", "sec/app", "--build")["build_secrets"] == []

        hdr = {"Authorization": f"Bearer {d.token}"}
        base = f"{d.url}/api/v1/projects/sec/components/app/build-secrets"
        for key, body, status, words in (
                        ("bad%20id", {"value": "x"}, 400, ["may hold only letters"]),
                        ("bad:id", {"value": "x"}, 400, ["bad:id"]),
                        ("K", {"value": "x", "secret": False}, 400, ["always a secret", "ARG"]),
                        ("K", {"value": ""}, 413, ["empty"]),
                        ("K", {"value": "x" * (64 * 1024 + 1)}, 413, ["64 KiB"]),
                        ("K", {"value": "x", "value_base64": "eA=="}, 400, ["exactly one"]),
                        ("K", {"value": "x", "file": "/x"}, 400, ["file"]),
        ):
                r = requests.put(f"{base}/{key}", json=body, headers=hdr, timeout=30)
                assert r.status_code == status, (key, r.status_code, r.text)
                said = r.json()["error"] + " " + (r.json().get("hint") or "")
                assert all(w in said for w in words), (key, said)
        r = requests.get(f"{d.url}/api/v1/projects/sec/components/nope/build-secrets", headers=hdr, timeout=30)
        assert r.status_code == 404
        assert d.cli("config", "list", "sec/app", "--build")["build_secrets"] == []


def test_roles_viewer_reads_names_only_developer_writes(bd):
        d = bd
        dev = add_user(d, "bsdev", "developer")
        view = add_user(d, "bsview", "viewer")
        value = "dev-set-" + secrets.token_hex(12)
        doc = remote(d, dev, "config", "set", "sec/other", "--build", f"DEV_TOKEN={value}", "--secret")
        assert doc["build_secret"]["version"] == 1
        # A viewer sees the names, and may not set or unset.
        assert [s["key"] for s in build_secrets(d, "sec/other", view).json()["build_secrets"]] == ["DEV_TOKEN"]
        assert_forbidden(role_api(d, "PUT", "projects/sec/components/other/build-secrets/DEV_TOKEN", view,
                                  {"value": "overwritten"}), "viewer")
        assert_forbidden(role_api(d, "DELETE", "projects/sec/components/other/build-secrets/DEV_TOKEN", view),
                         "viewer")
        p = remote(d, view, "config", "set", "sec/other", "--build", "DEV_TOKEN=x", "--secret", check=False)
        assert p.returncode == 1 and "your role (viewer)" in p.stderr.lower(), p.stderr
        listed = build_secrets(d, "sec/other").json()["build_secrets"]
        assert [(s["key"], s["version"]) for s in listed] == [("DEV_TOKEN", 1)]
        remote(d, dev, "config", "unset", "sec/other", "--build", "DEV_TOKEN")
        assert build_secrets(d, "sec/other").json()["build_secrets"] == []


def test_value_never_in_an_answer_or_in_slipway_db(bd):
        d = bd
        value = "SEALED-" + secrets.token_hex(20)
        answers = []
        p = subprocess.run(d.cli_argv("config", "set", "sec/other", "--build", "SEALED", "--from-file", "-",
                                      "--secret"), input=value.encode(), capture_output=True)
        assert p.returncode == 0, p.stderr
        answers.append(p.stdout + p.stderr)
        for args in (["config", "list", "sec/other", "--build"], ["component", "show", "sec/other"],
                     ["component", "list", "sec"], ["config", "list", "sec/other", "development", "--effective"]):
                answers.append(d.cli(*args, json=False).stdout.encode())
                answers.append(json.dumps(d.cli(*args)).encode())
        answers.append(build_secrets(d, "sec/other").content)
        assert not [a for a in answers if any(n in a for n in needles(value))]

        db = sqlite3.connect(f"file:{d.state_dir / 'slipway.db'}?mode=ro", uri=True)
        row = db.execute("SELECT size, key_version, length(ciphertext) FROM build_secrets WHERE key = 'SEALED'"
                         " ORDER BY version DESC").fetchone()
        db.close()
        assert row[0] == len(value) and row[1] >= 1 and row[2] == len(value) + 16
        # Nowhere in slipway.db, its WAL or the daemon's log: while running, after a rotation, after a stop.
        assert files_holding(list(walk_files(d.state_dir)) + [d.log_path], value) == []
        rot = d.cli("vault", "rotate")
        db = sqlite3.connect(f"file:{d.state_dir / 'slipway.db'}?mode=ro", uri=True)
        assert db.execute("SELECT count(*) FROM build_secrets WHERE deleted = 0 AND key_version != ?",
                          (rot["key_version"],)).fetchone()[0] == 0
        db.close()
        assert files_holding(list(walk_files(d.state_dir)) + [d.log_path], value) == []
        d.cli("config", "unset", "sec/other", "--build", "SEALED")


def test_pipeline_build_mounts_the_vault_secret_and_keeps_it_nowhere(bd, tmp_path):
        d = bd
        value = "BUILD-SECRET-" + secrets.token_hex(20)
        repo = tmp_path / "repo"
        sha = commit(repo, {"Dockerfile": secret_dockerfile(value)}, "needs TOKEN")
        d.cli("component", "create", "sec/web", "--git", repo)
        d.cli("config", "set", "sec/web", "--build", f"TOKEN={value}", "--secret")
        # Re-sealed under a new key before the build: what the pipeline opens is the rotated row.
        d.cli("vault", "rotate")

        b = wait_build(d, d.cli("build", "sec/web")["id"])
        log, _ = raw(d, f"/api/v1/builds/{b['id']}/logs")
        assert b["status"] == "succeeded", f"{b.get('reason')}\n{log[-3000:]}"
        assert b["commit"] == sha
        assert "build secrets from the vault: TOKEN" in log, log
        assert "Attempted to remove" not in log, log  # nspawn noise about its own scratch dir stays out
        # The step that prints it shows it scrubbed; the value is not in the log in any form.
        assert "[secret TOKEN]" in log, log
        assert not any(n.decode(errors="replace") in log for n in needles(value))

        # Not in the image: its config and history, or any layer of the exported layout.
        img = d.cli("image", "inspect", b["image_ref"])
        assert not any(n.decode() in json.dumps(img) for n in needles(value)[:3])
        history = json.dumps(img["config"].get("history", []))
        assert "TOKEN" in history or "secret" in history  # the RUN lines are in the history, not the value
        out = tmp_path / "oci"
        d.cli("image", "export", b["image_ref"], "--oci", out, json=False)
        assert files_holding(list(walk_files(out)), value) == []
        # Not in any file under the state dir (step logs, build dirs, the db, cache, layers, tmp) nor the
        # daemon's log.
        assert files_holding(list(walk_files(d.state_dir)) + [d.log_path], value) == []


def test_unset_required_secret_fails_the_build_naming_it(bd, tmp_path):
        d = bd
        repo = tmp_path / "repo"
        dockerfile = ("FROM busybox:1\n"
                      "RUN --mount=type=secret,id=MISSING_TOKEN,required=true cat /run/secrets/MISSING_TOKEN\n")
        commit(repo, {"Dockerfile": dockerfile}, "needs a secret nobody set")
        d.cli("component", "create", "sec/needy", "--git", repo)
        b = wait_build(d, d.cli("build", "sec/needy")["id"])
        assert b["status"] == "failed", b
        assert {s["name"]: s["status"] for s in b["steps"]}["image"] == "failed"
        reason = b["reason"]
        assert "MISSING_TOKEN" in reason and "not set" in reason, reason
        assert "slipway config set sec/needy --build MISSING_TOKEN=VALUE --secret" in reason, reason
        shown = d.cli("build", "show", str(b["id"]), json=False).stdout
        assert "MISSING_TOKEN" in shown and "--build" in shown, shown

        # Set it: the same commit builds now (a failed build may be tried again).
        d.cli("config", "set", "sec/needy", "--build", "MISSING_TOKEN=now-it-is-set", "--secret")
        b2 = wait_build(d, d.cli("build", "sec/needy")["id"])
        assert b2["status"] == "succeeded", b2.get("reason")
        assert b2["id"] != b["id"] and b2["commit"] == b["commit"]
