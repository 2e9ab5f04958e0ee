"""The whole issue-11 flow a user walks through (README "Configs, secrets, promotion and rollback"): declare
configurables, set values and a secret per environment, deploy, promote the same image, change a value and
redeploy, roll back — each time checked from inside the container (a CGI that prints what the app sees).
Also: a ciphertext moved to another slot with sqlite3 fails to open and the deploy refuses."""

import json
import sqlite3
import subprocess

import pytest

from deploy_util import (build_image, http_get, ingress_url, make_site, running_deploy_daemon, wait_for)

TARGET = "flow/web"
PATH_TOKEN = "/etc/app/token"


def make_app(dir, text):
        """make_site() plus /cgi-bin/env: prints GREETING, API_KEY and the token file with its owner and mode."""
        ctx = make_site(dir, text)
        body = ('echo "greeting=$GREETING"\n'
                'echo "api_key=$API_KEY"\n'
                f'echo "token=$(cat {PATH_TOKEN})"\n'
                f'echo "token_stat=$(stat -c %u:%a {PATH_TOKEN})"\n'
                'echo "version=' + text + '"\n')
        cgi = ctx / "www" / "cgi-bin" / "env"
        cgi.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n" + body)
        cgi.chmod(0o755)
        return ctx


def seen(d, env):
        """What the live instance of flow/web in env sees, as a dict ({} when it does not answer)."""
        status, body = http_get(ingress_url(d, "flow", "web", env) + "cgi-bin/env")
        if status != 200:
                return {}
        return dict(l.split("=", 1) for l in body.splitlines() if "=" in l)


def releases(d, env):
        return d.cli("releases", TARGET, env)["releases"]


@pytest.fixture
def flow(build_dir, images, tmp_path):
        with running_deploy_daemon(build_dir, tmp_path / "state", images) as d:
                build_image(d, make_app(tmp_path / "v1", "v1"), "flow:1")
                build_image(d, make_app(tmp_path / "v2", "v2"), "flow:2")
                d.cli("project", "create", "flow")
                d.cli("component", "create", TARGET, "--image", "flow:1", "--health", "http:/healthz",
                      "--config", "GREETING", "--config", "API_KEY:secret",
                      "--config", f"TOKEN:secret:file={PATH_TOKEN}")
                token = tmp_path / "token"
                token.write_text("dev-token-2f7c91")
                yield d, tmp_path


def test_set_deploy_promote_redeploy_rollback(flow):
        d, tmp = flow
        # Nothing set yet: the deploy is refused, naming every missing value and how to set it; no release.
        p = d.cli("deploy", TARGET, "development", check=False, json=False)
        assert p.returncode != 0
        for name in ("GREETING", "API_KEY", "TOKEN"):
                assert name in p.stderr, p.stderr
        assert "slipway config set" in p.stderr, p.stderr
        assert releases(d, "development") == []

        d.cli("config", "set", TARGET, "development", "GREETING=hello from dev")
        d.cli("config", "set", TARGET, "development", "API_KEY=dev-key-93b1d0", "--secret")
        d.cli("config", "set", TARGET, "development", "TOKEN", "--file", PATH_TOKEN,
              "--from-file", str(tmp / "token"), "--secret")
        # Write-only: the listing names the secret, never its value.
        listing = d.cli("config", "list", TARGET, "development")
        text = json.dumps(listing)
        assert "API_KEY" in text and "dev-key-93b1d0" not in text and "dev-token-2f7c91" not in text
        assert "hello from dev" in text  # a plain value is shown

        d.cli("deploy", TARGET, "development", timeout=180)
        dev = seen(d, "development")
        assert dev["greeting"] == "hello from dev" and dev["api_key"] == "dev-key-93b1d0", dev
        assert dev["token"] == "dev-token-2f7c91" and dev["version"] == "v1", dev
        dev_digest = releases(d, "development")[0]["image_digest"]
        # component show lists each release with the value versions it pinned, by name only.
        show = d.cli("component", "show", TARGET)
        dev_env = [e for e in show["environments"] if e["name"] == "development"][0]
        pinned = {v["key"]: v for v in dev_env["releases"][0]["values"]}
        assert set(pinned) == {"GREETING", "API_KEY", "TOKEN"} and pinned["API_KEY"]["secret"], pinned
        assert "dev-key-93b1d0" not in json.dumps(show) and "dev-token-2f7c91" not in json.dumps(show)

        # Promote to production: refused while production lacks the values (named), nothing created there.
        p = d.cli("promote", TARGET, "development", check=False, json=False)
        assert p.returncode != 0 and "GREETING" in p.stderr and "API_KEY" in p.stderr, p.stderr
        assert releases(d, "production") == []
        d.cli("config", "set", "flow", "production", "GREETING=hello from prod")  # project-wide value
        d.cli("config", "set", TARGET, "production", "API_KEY=prod-key-51aa07", "--secret")
        d.cli("config", "set", TARGET, "production", "TOKEN=prod-token-c3d4", "--file", PATH_TOKEN, "--secret")
        d.cli("promote", TARGET, "development", timeout=180)
        prod_rel = releases(d, "production")[0]
        assert prod_rel["image_digest"] == dev_digest  # the same image, not a rebuild
        prod = seen(d, "production")
        assert prod["greeting"] == "hello from prod" and prod["api_key"] == "prod-key-51aa07", prod
        assert prod["token"] == "prod-token-c3d4", prod

        # A component's own value wins over the project-wide one; it applies at the next deploy only.
        d.cli("config", "set", TARGET, "production", "GREETING=hello again")
        assert seen(d, "production")["greeting"] == "hello from prod"
        d.cli("deploy", TARGET, "production", timeout=180)  # no --image: the live image, current values
        assert seen(d, "production")["greeting"] == "hello again"
        assert releases(d, "production")[0]["image_digest"] == dev_digest

        # Rollback restores the earlier values as well as the image.
        d.cli("rollback", TARGET, "production", timeout=180)
        prod = seen(d, "production")
        assert prod["greeting"] == "hello from prod" and prod["version"] == "v1", prod
        # "Save and deploy" in one step.
        d.cli("config", "set", TARGET, "production", "GREETING=saved and deployed", "--deploy", timeout=180)
        assert seen(d, "production")["greeting"] == "saved and deployed"

        d.cli("deploy", TARGET, "development", "--image", "flow:2", timeout=180)
        assert seen(d, "development")["version"] == "v2"
        d.cli("rollback", TARGET, "development", timeout=180)
        dev = seen(d, "development")
        assert dev["version"] == "v1" and dev["greeting"] == "hello from dev", dev


def test_moved_ciphertext_does_not_open(flow):
        d, tmp = flow
        d.cli("config", "set", TARGET, "development", "GREETING=plain greeting")
        d.cli("config", "set", TARGET, "development", "API_KEY=key-to-move-77", "--secret")
        d.cli("config", "set", TARGET, "development", "TOKEN", "--file", PATH_TOKEN,
              "--from-file", str(tmp / "token"), "--secret")
        before = d.cli("config", "list", TARGET, "development")
        d.stop()
        # The secret's sealed bytes, copied over the greeting's: a valid ciphertext, in the wrong slot.
        con = sqlite3.connect(d.state_dir / "slipway.db")
        with con:
                key_row = con.execute("SELECT nonce, ciphertext, key_version, size FROM config_values "
                                      "WHERE key = 'API_KEY'").fetchone()
                con.execute("UPDATE config_values SET nonce = ?, ciphertext = ?, key_version = ?, size = ? "
                            "WHERE key = 'GREETING'", key_row)
        con.close()
        d.start()
        p = d.cli("config", "list", TARGET, "development", check=False, json=False)
        assert p.returncode != 0 and "GREETING" in p.stderr and "key-to-move-77" not in p.stdout + p.stderr, \
                (p.stdout, p.stderr)
        p = d.cli("deploy", TARGET, "development", check=False, json=False, timeout=180)
        assert p.returncode != 0 and "GREETING" in p.stdout + p.stderr, (p.stdout, p.stderr)
        assert "key-to-move-77" not in p.stdout + p.stderr
        assert not any(r["status"] == "live" for r in releases(d, "development"))
        assert before  # the listing worked before the move
